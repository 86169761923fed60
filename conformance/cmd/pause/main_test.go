package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAnswer(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantDone   bool
		wantStdout string
		wantStderr string
	}{
		{name: "no arguments: wait", wantDone: false},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantDone: true, wantStderr: `(?s)^Usage: pause\n\s+pause --version\n.*--version prints`},
		{name: "short help", args: []string{"-h"}, wantCode: 0, wantDone: true, wantStderr: `^Usage: pause`},
		{name: "version", args: []string{"--version"}, wantCode: 0, wantDone: true, wantStdout: `^pause \S+( \S+)* go\S+\n$`},
		{name: "single-dash version", args: []string{"-version"}, wantCode: 0, wantDone: true, wantStdout: `^pause `},
		{name: "version with more", args: []string{"--version", "x"}, wantCode: 2, wantDone: true, wantStderr: `^pause: unexpected arguments \["--version" "x"\]\nUsage: pause`},
		{name: "unexpected", args: []string{"sleep"}, wantCode: 2, wantDone: true, wantStderr: `^pause: unexpected arguments \["sleep"\]\nUsage: pause`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, done := answer(tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantDone, done)
			for _, w := range []struct{ got, want string }{{stdout.String(), tt.wantStdout}, {stderr.String(), tt.wantStderr}} {
				if w.want == "" {
					assert.Empty(t, w.got)
				} else {
					assert.Regexp(t, w.want, w.got)
				}
			}
		})
	}
}
