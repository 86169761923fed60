package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRates(t *testing.T) {
	got, err := parseRates("100, 500,1000")
	require.NoError(t, err)
	assert.Equal(t, []float64{100, 500, 1000}, got)
	for _, bad := range []string{"", "0", "-5", "fast", "100,,200", "1e9"} {
		_, err := parseRates(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "100,500,1000", joinRates([]float64{100, 500, 1000}))
}

func TestFlagsAreCheckedBeforeAnythingStarts(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "Envoy -> mock upstream"},
		{[]string{"--help"}, 0, "agentgateway targets: not run: <reason>"},
		{[]string{"--help"}, 0, "-version"},
		{[]string{"--rates", "fast"}, 2, "is not a number of requests per second"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"--step", "0s"}, 2, "step and timeout must be positive"},
		{[]string{"--max-in-flight", "0"}, 2, "max in flight"},
		{[]string{"--help"}, 0, "-mix mixes"},
		{[]string{"--help"}, 0, "-cache settings"},
		{[]string{"--help"}, 0, "(default \"fixed,agent\")"},
		{[]string{"--help"}, 0, "(default \"on,off\")"},
		{[]string{"--mix", "bursty"}, 2, `unknown mix "bursty"`},
		{[]string{"--mix", ","}, 2, "at least one mix and one cache setting"},
		{[]string{"--cache", "maybe"}, 2, `unknown cache setting "maybe"`},
		{[]string{"--help"}, 0, "-registry-step duration"},
		{[]string{"--registry-step", "-1s"}, 2, "registry step -1s must not be negative"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr, nil) // each stops before isolating
		assert.Equal(t, tc.code, code, "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.want, "%v", tc.args)
		assert.Empty(t, stdout.String(), "%v: nothing ran", tc.args)
	}
}

// --version prints the version line on stdout and exits 0 before any other flag is checked.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--version", "--rates", "fast"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr, nil) // stops before isolating
		assert.Equal(t, 0, code, "%v", args)
		assert.Regexp(t, `^bench \S+( \S+)* go\S+\n$`, stdout.String(), "%v", args)
		assert.Empty(t, stderr.String(), "%v", args)
	}
}

func TestParseCaches(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "on,off", want: []string{"on", "off"}},
		{in: " off ", want: []string{"off"}},
		{in: "off,off,on", want: []string{"off", "on"}},
		{in: "on,sometimes", err: "unknown cache setting"},
	} {
		got, err := parseCaches(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, strings.Split(cacheNames(got), ","), tc.in)
	}
	assert.Equal(t, []string{"fixed", "agent"}, splitList("fixed, agent,,fixed"))
}
