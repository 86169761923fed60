package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// quotedLines is how much of a component's log an error message quotes.
const quotedLines = 20

// LastLines quotes the end of a component's log for an error message, so that a failed start
// says why in the component's own words: "last lines of <path>:\n<lines>".
func LastLines(path string) string {
	return fmt.Sprintf("last lines of %s:\n%s", path, tail(path, quotedLines))
}

// tail returns the last n lines of a file; when it cannot be read, it says so instead.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
