// Package validate holds the offline checks of deploy/kubernetes (validate_test.go,
// agentgateway_test.go).
package validate
