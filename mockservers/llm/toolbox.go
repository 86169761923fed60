package llm

import "strings"

// toolbox resolves the demo's tool names to the names a request offered.
// Agents often namespace tools by server ("payments_refund_issue",
// "payments.refund_issue", "mcp__payments__refund_issue"); the brain calls
// whatever name was offered and nothing else.
type toolbox struct {
	offered []string
}

// lookup returns the offered name for a demo tool, or "" when none was
// offered. An exact name wins over a namespaced one.
func (tb toolbox) lookup(base string) string {
	found := ""
	for _, name := range tb.offered {
		if name == base {
			return name
		}
		if found == "" && isNamespaced(name, base) {
			found = name
		}
	}
	return found
}

func (tb toolbox) has(base string) bool { return tb.lookup(base) != "" }

// baseOf maps an offered (possibly namespaced) name back to a demo tool.
func baseOf(name string) string {
	for _, base := range demoTools {
		if name == base || isNamespaced(name, base) {
			return base
		}
	}
	return name
}

func isNamespaced(name, base string) bool {
	prefix, ok := strings.CutSuffix(name, base)
	return ok && prefix != "" && strings.ContainsAny(prefix[len(prefix)-1:], "_.-/:")
}

// The demo's tools the brain knows how to use.
const (
	toolGetTicket    = "get_ticket"
	toolUpdateTicket = "update_ticket"
	toolAddComment   = "add_comment"
	toolGetCustomer  = "get_customer"
	toolRefundIssue  = "refund_issue"
)

var demoTools = []string{toolGetTicket, toolUpdateTicket, toolAddComment, toolGetCustomer, toolRefundIssue}
