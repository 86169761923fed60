package mcpserver

import "time"

// Ticket is a support ticket of the tickets server.
type Ticket struct {
	ID         string         `json:"id"`
	CustomerID string         `json:"customer_id"`
	Subject    string         `json:"subject"`
	Body       string         `json:"body"`
	Status     string         `json:"status"`
	Refund     *RefundRequest `json:"refund_request,omitempty"`
	Comments   []Comment      `json:"comments"`
}

// RefundRequest is what a customer asked to have refunded.
type RefundRequest struct {
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	ChargeID    string `json:"charge_id"`
}

// Comment is a note added to a ticket.
type Comment struct {
	ID        string    `json:"id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Ticket statuses.
const (
	StatusOpen      = "open"
	StatusPending   = "pending"
	StatusEscalated = "escalated"
	StatusResolved  = "resolved"
)

// Customer is a record of the crm server.
type Customer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Plan  string `json:"plan"`
}

// Order is a purchase of a customer.
type Order struct {
	ID          string `json:"id"`
	CustomerID  string `json:"customer_id"`
	ChargeID    string `json:"charge_id"`
	Description string `json:"description"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// Charge is a payment the payments server can refund.
type Charge struct {
	ID            string `json:"id"`
	CustomerID    string `json:"customer_id"`
	AmountCents   int64  `json:"amount_cents"`
	RefundedCents int64  `json:"refunded_cents"`
	Currency      string `json:"currency"`
}

// Refund is a refund the payments server issued.
type Refund struct {
	ID          string `json:"id"`
	TicketID    string `json:"ticket_id"`
	ChargeID    string `json:"charge_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
	Status      string `json:"status"`
}

// Employee is a person on the payroll.
type Employee struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	MonthlyGrossCents int64  `json:"monthly_gross_cents"`
	Currency          string `json:"currency"`
}

// Payslip is one employee's pay for one period.
type Payslip struct {
	EmployeeID string `json:"employee_id"`
	Name       string `json:"name"`
	Period     string `json:"period"`
	GrossCents int64  `json:"gross_cents"`
	TaxCents   int64  `json:"tax_cents"`
	NetCents   int64  `json:"net_cents"`
	Currency   string `json:"currency"`
}

// PayrollRun is the result of run_payroll.
type PayrollRun struct {
	ID              string `json:"id"`
	Period          string `json:"period"`
	DryRun          bool   `json:"dry_run"`
	Employees       int    `json:"employees"`
	TotalGrossCents int64  `json:"total_gross_cents"`
	Currency        string `json:"currency"`
	Status          string `json:"status"`
}

// Seed is the state every server starts from and returns to on reset.
type Seed struct {
	Tickets   []Ticket
	Customers []Customer
	Orders    []Order
	Charges   []Charge
	Employees []Employee
}

// DemoSeed is the data of CONTRACTS.md "Demo seed".
func DemoSeed() Seed {
	return Seed{
		Tickets: []Ticket{
			{
				ID:         "T-1001",
				CustomerID: "C-100",
				Subject:    "Refund for cancelled annual contract",
				Body:       "We cancelled our annual enterprise contract within the cooling-off period. Please refund the $9,000.00 charged on ch_1001.",
				Status:     StatusOpen,
				Refund:     &RefundRequest{AmountCents: 900000, Currency: "usd", ChargeID: "ch_1001"},
			},
			{
				ID:         "T-1002",
				CustomerID: "C-200",
				Subject:    "Charged twice for a monthly add-on",
				Body:       "I was billed twice for the reporting add-on this month. Please refund the duplicate $40.00 charge ch_1002.",
				Status:     StatusOpen,
				Refund:     &RefundRequest{AmountCents: 4000, Currency: "usd", ChargeID: "ch_1002"},
			},
			{
				ID:         "T-2001",
				CustomerID: "C-300",
				Subject:    "Question about invoice INV-3001",
				Body:       "Our invoice INV-3001 lists 12 seats but we only have 10 users. Can you explain the seat count?",
				Status:     StatusOpen,
			},
		},
		Customers: []Customer{
			{ID: "C-100", Name: "Dana Whitfield", Email: "dana.whitfield@example.com", Plan: "enterprise"},
			{ID: "C-200", Name: "Lee Okafor", Email: "lee.okafor@example.com", Plan: "team"},
			{ID: "C-300", Name: "Sam Ruiz", Email: "sam.ruiz@example.com", Plan: "business"},
		},
		Orders: []Order{
			{ID: "O-1001", CustomerID: "C-100", ChargeID: "ch_1001", Description: "Enterprise plan, annual", AmountCents: 900000, Currency: "usd"},
			{ID: "O-2001", CustomerID: "C-200", ChargeID: "ch_2001", Description: "Team plan, monthly", AmountCents: 12000, Currency: "usd"},
			{ID: "O-1002", CustomerID: "C-200", ChargeID: "ch_1002", Description: "Reporting add-on, monthly (duplicate)", AmountCents: 4000, Currency: "usd"},
			{ID: "O-3001", CustomerID: "C-300", ChargeID: "ch_3001", Description: "Business plan, 12 seats, invoice INV-3001", AmountCents: 36000, Currency: "usd"},
		},
		Charges: []Charge{
			{ID: "ch_1001", CustomerID: "C-100", AmountCents: 900000, Currency: "usd"},
			{ID: "ch_1002", CustomerID: "C-200", AmountCents: 4000, Currency: "usd"},
			{ID: "ch_2001", CustomerID: "C-200", AmountCents: 12000, Currency: "usd"},
			{ID: "ch_3001", CustomerID: "C-300", AmountCents: 36000, Currency: "usd"},
		},
		Employees: []Employee{
			{ID: "E-001", Name: "Ada Moreno", MonthlyGrossCents: 850000, Currency: "usd"},
			{ID: "E-002", Name: "Ben Ito", MonthlyGrossCents: 720000, Currency: "usd"},
			{ID: "E-003", Name: "Carol Singh", MonthlyGrossCents: 910000, Currency: "usd"},
		},
	}
}
