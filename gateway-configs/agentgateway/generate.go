package agentgateway

//go:generate go run ./internal/writeconfig
