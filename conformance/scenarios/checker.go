package scenarios

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// checker collects what one step found wrong and what it logged. errorf records a problem and
// goes on; fatalf records one and ends the step (a panic with stepFailed, which the runner
// recovers). It is safe to use from the agent's goroutines, but fatalf only from the step's own.
type checker struct {
	mu       sync.Mutex
	problems []string
	log      []string
	onLog    func(string) // the observer, told each line as it is logged
}

// stepFailed is the panic value of fatalf: it ends the step, and only the step.
type stepFailed struct{}

func (c *checker) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) fatalf(format string, args ...any) {
	c.errorf(format, args...)
	panic(stepFailed{})
}

func (c *checker) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.log = append(c.log, line)
	c.mu.Unlock()
	if c.onLog != nil {
		c.onLog(line)
	}
}

func (c *checker) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.problems) > 0
}

// noError ends the step when err is set.
func (c *checker) noError(err error, format string, args ...any) {
	if err != nil {
		c.fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// equal records a problem when got is not want.
func (c *checker) equal(want, got any, format string, args ...any) bool {
	if reflect.DeepEqual(want, got) {
		return true
	}
	c.errorf("%s: want %#v, got %#v", fmt.Sprintf(format, args...), want, got)
	return false
}

// contains records a problem when s does not hold sub.
func (c *checker) contains(s, sub string, format string, args ...any) bool {
	if strings.Contains(s, sub) {
		return true
	}
	c.errorf("%s: %q does not contain %q", fmt.Sprintf(format, args...), s, sub)
	return false
}

// isTrue records a problem when ok is false.
func (c *checker) isTrue(ok bool, format string, args ...any) bool {
	if !ok {
		c.errorf(format, args...)
	}
	return ok
}
