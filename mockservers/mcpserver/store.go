package mcpserver

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Errors a Store returns; tool handlers turn them into MCP tool errors.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid request")
)

// Store is the in-memory state of a mock MCP server. It is safe for
// concurrent use; everything it returns is a copy.
type Store struct {
	seed Seed
	now  func() time.Time

	mu        sync.Mutex
	tickets   map[string]*Ticket
	customers map[string]Customer
	orders    []Order
	charges   map[string]*Charge
	employees map[string]Employee
	refunds   []Refund
	runs      []PayrollRun
	nextID    int
}

// NewStore returns a store holding a copy of seed. A nil now means time.Now.
func NewStore(seed Seed, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{seed: seed, now: now}
	s.Reset()
	return s
}

// Reset restores the seed state.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickets = make(map[string]*Ticket, len(s.seed.Tickets))
	for _, t := range s.seed.Tickets {
		t := cloneTicket(t)
		s.tickets[t.ID] = &t
	}
	s.customers = make(map[string]Customer, len(s.seed.Customers))
	for _, c := range s.seed.Customers {
		s.customers[c.ID] = c
	}
	s.orders = slices.Clone(s.seed.Orders)
	s.charges = make(map[string]*Charge, len(s.seed.Charges))
	for _, c := range s.seed.Charges {
		s.charges[c.ID] = &c
	}
	s.employees = make(map[string]Employee, len(s.seed.Employees))
	for _, e := range s.seed.Employees {
		s.employees[e.ID] = e
	}
	s.refunds = nil
	s.runs = nil
	s.nextID = 0
}

func cloneTicket(t Ticket) Ticket {
	if t.Refund != nil {
		r := *t.Refund
		t.Refund = &r
	}
	t.Comments = slices.Clone(t.Comments)
	if t.Comments == nil {
		t.Comments = []Comment{}
	}
	return t
}

// newID returns a fresh identifier; ids restart on reset so runs repeat.
func (s *Store) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s%04d", prefix, s.nextID)
}

// Ticket returns the ticket with the given id.
func (s *Store) Ticket(id string) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, fmt.Errorf("ticket %q: %w", id, ErrNotFound)
	}
	return cloneTicket(*t), nil
}

// Tickets returns the tickets with the given status (all when empty),
// ordered by id.
func (s *Store) Tickets(status string) []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ticket, 0, len(s.tickets))
	for _, t := range s.tickets {
		if status == "" || t.Status == status {
			out = append(out, cloneTicket(*t))
		}
	}
	slices.SortFunc(out, func(a, b Ticket) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// UpdateTicket sets the status (when not empty) and adds a comment (when
// not empty).
func (s *Store) UpdateTicket(id, status, comment string) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, fmt.Errorf("ticket %q: %w", id, ErrNotFound)
	}
	if status != "" {
		t.Status = status
	}
	if comment != "" {
		t.Comments = append(t.Comments, Comment{ID: s.newID("CM-"), Body: comment, CreatedAt: s.now().UTC()})
	}
	return cloneTicket(*t), nil
}

// AddComment adds a comment to a ticket.
func (s *Store) AddComment(ticketID, body string) (Comment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[ticketID]
	if !ok {
		return Comment{}, fmt.Errorf("ticket %q: %w", ticketID, ErrNotFound)
	}
	c := Comment{ID: s.newID("CM-"), Body: body, CreatedAt: s.now().UTC()}
	t.Comments = append(t.Comments, c)
	return c, nil
}

// Customer returns the customer with the given id.
func (s *Store) Customer(id string) (Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[id]
	if !ok {
		return Customer{}, fmt.Errorf("customer %q: %w", id, ErrNotFound)
	}
	return c, nil
}

// Orders returns the orders of a customer.
func (s *Store) Orders(customerID string) ([]Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.customers[customerID]; !ok {
		return nil, fmt.Errorf("customer %q: %w", customerID, ErrNotFound)
	}
	out := []Order{}
	for _, o := range s.orders {
		if o.CustomerID == customerID {
			out = append(out, o)
		}
	}
	return out, nil
}

// Charge returns the charge with the given id.
func (s *Store) Charge(id string) (Charge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.charges[id]
	if !ok {
		return Charge{}, fmt.Errorf("charge %q: %w", id, ErrNotFound)
	}
	return *c, nil
}

// IssueRefund refunds part or all of the charge a ticket is about.
func (s *Store) IssueRefund(ticketID string, amountCents int64, currency, reason string) (Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[ticketID]
	if !ok {
		return Refund{}, fmt.Errorf("ticket %q: %w", ticketID, ErrNotFound)
	}
	if t.Refund == nil {
		return Refund{}, fmt.Errorf("ticket %q names no charge to refund: %w", ticketID, ErrInvalid)
	}
	ch, ok := s.charges[t.Refund.ChargeID]
	if !ok {
		return Refund{}, fmt.Errorf("charge %q: %w", t.Refund.ChargeID, ErrNotFound)
	}
	if currency != ch.Currency {
		return Refund{}, fmt.Errorf("currency %q does not match charge %s in %q: %w", currency, ch.ID, ch.Currency, ErrInvalid)
	}
	if left := ch.AmountCents - ch.RefundedCents; amountCents > left {
		return Refund{}, fmt.Errorf("amount %d exceeds the %d cents left to refund on charge %s: %w", amountCents, left, ch.ID, ErrInvalid)
	}
	ch.RefundedCents += amountCents
	r := Refund{
		ID:          s.newID("re_"),
		TicketID:    ticketID,
		ChargeID:    ch.ID,
		AmountCents: amountCents,
		Currency:    currency,
		Reason:      reason,
		Status:      "succeeded",
	}
	s.refunds = append(s.refunds, r)
	return r, nil
}

// Refunds returns the refunds issued since the last reset, oldest first.
func (s *Store) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refunds)
}

// Payslip computes an employee's payslip for a period ("YYYY-MM").
func (s *Store) Payslip(employeeID, period string) (Payslip, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.employees[employeeID]
	if !ok {
		return Payslip{}, fmt.Errorf("employee %q: %w", employeeID, ErrNotFound)
	}
	return payslipFor(e, period), nil
}

func payslipFor(e Employee, period string) Payslip {
	tax := e.MonthlyGrossCents * 22 / 100
	return Payslip{
		EmployeeID: e.ID,
		Name:       e.Name,
		Period:     period,
		GrossCents: e.MonthlyGrossCents,
		TaxCents:   tax,
		NetCents:   e.MonthlyGrossCents - tax,
		Currency:   e.Currency,
	}
}

// RunPayroll pays every employee for a period; a dry run only totals it.
// A period can be paid once.
func (s *Store) RunPayroll(period string, dryRun bool) (PayrollRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !dryRun {
		for _, r := range s.runs {
			if r.Period == period && !r.DryRun {
				return PayrollRun{}, fmt.Errorf("payroll for %s already ran as %s: %w", period, r.ID, ErrInvalid)
			}
		}
	}
	run := PayrollRun{ID: s.newID("PR-"), Period: period, DryRun: dryRun, Employees: len(s.employees), Currency: "usd", Status: "completed"}
	if dryRun {
		run.Status = "dry_run"
	}
	for _, e := range s.employees {
		run.TotalGrossCents += e.MonthlyGrossCents
	}
	s.runs = append(s.runs, run)
	return run, nil
}

// PayrollRuns returns the payroll runs since the last reset, oldest first.
func (s *Store) PayrollRuns() []PayrollRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}
