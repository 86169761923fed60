package mcpserver

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Identifier shapes. They are declared in the input schemas and checked
// again in the handlers: a schema is advice to the caller, not a guard.
var (
	ticketIDPattern   = regexp.MustCompile(`^T-[0-9]{1,8}$`)
	customerIDPattern = regexp.MustCompile(`^C-[0-9]{1,8}$`)
	chargeIDPattern   = regexp.MustCompile(`^ch_[A-Za-z0-9]{1,32}$`)
	employeeIDPattern = regexp.MustCompile(`^E-[0-9]{1,8}$`)
	periodPattern     = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
	currencyPattern   = regexp.MustCompile(`^[a-z]{3}$`)
)

const maxTextLen = 2000

// maxRefundCents bounds amount_cents far above any seeded charge, so that
// arithmetic on it cannot overflow.
const maxRefundCents = 100_000_000_000

func checkPattern(field, value string, re *regexp.Regexp) error {
	if value == "" {
		return fmt.Errorf("%s is required: %w", field, ErrInvalid)
	}
	if !re.MatchString(value) {
		return fmt.Errorf("%s %q does not match %s: %w", field, value, re.String(), ErrInvalid)
	}
	return nil
}

func checkText(field, value string, required bool) error {
	switch {
	case required && strings.TrimSpace(value) == "":
		return fmt.Errorf("%s is required: %w", field, ErrInvalid)
	case utf8.RuneCountInString(value) > maxTextLen:
		return fmt.Errorf("%s is longer than %d characters: %w", field, maxTextLen, ErrInvalid)
	case !utf8.ValidString(value):
		return fmt.Errorf("%s is not valid UTF-8: %w", field, ErrInvalid)
	}
	return nil
}
