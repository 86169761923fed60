package mcpserver

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

type payslipArgs struct {
	EmployeeID string `json:"employee_id"`
	Period     string `json:"period"`
}

type runPayrollArgs struct {
	Period string `json:"period"`
	// DryRun defaults to true: paying everyone takes an explicit false.
	DryRun *bool `json:"dry_run"`
}

func periodProperty() mcp.ToolOption {
	return mcp.WithString("period", mcp.Required(), mcp.Description("Pay period, YYYY-MM"),
		mcp.Pattern(periodPattern.String()))
}

func payrollTools(store *Store) []server.ServerTool {
	return []server.ServerTool{
		{
			Tool: mcp.NewTool("get_payslip",
				mcp.WithDescription("Read an employee's payslip for a pay period."),
				mcp.WithString("employee_id", mcp.Required(), mcp.Description("Employee id, e.g. E-001"),
					mcp.Pattern(employeeIDPattern.String())),
				periodProperty(),
				mcp.WithReadOnlyHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args payslipArgs) (Payslip, error) {
				err := errors.Join(
					checkPattern("employee_id", args.EmployeeID, employeeIDPattern),
					checkPattern("period", args.Period, periodPattern),
				)
				if err != nil {
					return Payslip{}, err
				}
				return store.Payslip(args.EmployeeID, args.Period)
			}),
		},
		{
			Tool: mcp.NewTool("run_payroll",
				mcp.WithDescription("Pay every employee for a pay period (dry_run, the default, only totals it)."),
				periodProperty(),
				mcp.WithBoolean("dry_run", mcp.Description("Only total the run; defaults to true"), mcp.DefaultBool(true)),
				mcp.WithDestructiveHintAnnotation(true),
			),
			Handler: mcp.NewStructuredToolHandler(func(_ context.Context, _ mcp.CallToolRequest, args runPayrollArgs) (PayrollRun, error) {
				if err := checkPattern("period", args.Period, periodPattern); err != nil {
					return PayrollRun{}, err
				}
				dryRun := args.DryRun == nil || *args.DryRun
				return store.RunPayroll(args.Period, dryRun)
			}),
		},
	}
}
