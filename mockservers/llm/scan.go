package llm

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Bounds on how much of a hostile tool result the brain reads.
const (
	maxScanBytes    = 64 << 10
	maxScanAttempts = 256
)

// jsonObjects returns the JSON objects embedded in text, in order: the whole
// text when it is JSON, or objects quoted in prose ("denied: {...}").
func jsonObjects(text string) []map[string]any {
	if len(text) > maxScanBytes {
		text = text[:maxScanBytes]
	}
	var out []map[string]any
	attempts := 0
	for i := 0; i < len(text) && attempts < maxScanAttempts; {
		j := strings.IndexByte(text[i:], '{')
		if j < 0 {
			break
		}
		i += j
		attempts++
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			i++
			continue
		}
		out = append(out, obj)
		i += int(dec.InputOffset())
	}
	return out
}

// walkObjects calls visit on obj and every object nested in it, depth
// first, until visit returns true.
func walkObjects(v any, visit func(map[string]any) bool) bool {
	switch v := v.(type) {
	case map[string]any:
		if visit(v) {
			return true
		}
		// Sorted keys keep the brain deterministic when several objects match.
		for _, key := range slices.Sorted(maps.Keys(v)) {
			if walkObjects(v[key], visit) {
				return true
			}
		}
	case []any:
		for _, child := range v {
			if walkObjects(child, visit) {
				return true
			}
		}
	}
	return false
}

// denial is the policy output a gateway puts in a denied tool result.
type denial struct {
	Reason          string
	Code            string
	RemediationType string
	ApproversRole   string
}

func (d denial) stepUp() bool { return d.RemediationType == "step_up" }

// findDenial looks for a policy output (decision "deny") in text, anywhere
// in any JSON it holds, preferring one that asks for a step-up.
func findDenial(text string) (denial, bool) {
	var found *denial
	for _, obj := range jsonObjects(text) {
		walkObjects(obj, func(m map[string]any) bool {
			d, ok := asDenial(m)
			if !ok {
				return false
			}
			if found == nil || (d.stepUp() && !found.stepUp()) {
				found = &d
			}
			return d.stepUp()
		})
		if found != nil && found.stepUp() {
			break
		}
	}
	if found == nil {
		return denial{}, false
	}
	return *found, true
}

func asDenial(m map[string]any) (denial, bool) {
	remediation, _ := m["remediation"].(map[string]any)
	if m["decision"] != "deny" && remediation == nil {
		return denial{}, false
	}
	d := denial{Reason: str(m["reason"]), Code: str(m["code"])}
	if remediation != nil {
		d.RemediationType = str(remediation["type"])
		d.ApproversRole = str(remediation["approvers_role"])
	}
	return d, true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ticketFacts is what the brain needs from a get_ticket result.
type ticketFacts struct {
	ID          string
	CustomerID  string
	Subject     string
	AmountCents int64
	Currency    string
	ChargeID    string
}

func (t ticketFacts) wantsRefund() bool { return t.AmountCents > 0 }

// findTicket reads the ticket with the given id from a tool result.
func findTicket(text, id string) (ticketFacts, bool) {
	for _, obj := range jsonObjects(text) {
		var facts ticketFacts
		ok := walkObjects(obj, func(m map[string]any) bool {
			if str(m["id"]) != id {
				return false
			}
			facts = ticketFacts{ID: id, CustomerID: str(m["customer_id"]), Subject: str(m["subject"])}
			if r, ok := m["refund_request"].(map[string]any); ok {
				amount, _ := r["amount_cents"].(float64)
				if amount > 0 && amount < 1e15 {
					facts.AmountCents = int64(amount)
				}
				facts.Currency = str(r["currency"])
				facts.ChargeID = str(r["charge_id"])
			}
			return true
		})
		if ok {
			return facts, true
		}
	}
	return ticketFacts{}, false
}

// findString returns the first string value of key in any JSON object in text.
func findString(text, key string) string {
	var out string
	for _, obj := range jsonObjects(text) {
		if walkObjects(obj, func(m map[string]any) bool {
			out = str(m[key])
			return out != ""
		}) {
			return out
		}
	}
	return ""
}

// formatMoney renders cents the way a support agent would write them.
func formatMoney(cents int64, currency string) string {
	whole, frac := cents/100, cents%100
	digits := fmt.Sprint(whole)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	amount := fmt.Sprintf("%s.%02d", b.String(), frac)
	if strings.EqualFold(currency, "usd") || currency == "" {
		return "$" + amount
	}
	return amount + " " + strings.ToUpper(currency)
}
