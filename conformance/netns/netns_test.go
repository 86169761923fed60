package netns_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/netns"
)

// witnessEnv tells the test binary running again inside a namespace which test it is there for,
// and where that test writes what it saw: "<test>=<file>".
const witnessEnv = "NETNS_TEST_WITNESS"

// inside says whether this test binary runs inside a namespace for test t, and the file it may
// write; inside one for another test, t is skipped, since only that test is meant to run there.
func inside(t *testing.T) (bool, string) {
	t.Helper()
	if !netns.Current().Isolated {
		return false, ""
	}
	name, file, _ := strings.Cut(os.Getenv(witnessEnv), "=")
	if name != t.Name() {
		t.Skip("runs on the host only")
	}
	return true, file
}

// TestEnterRunsTheProgramAgainInALoopbackOnlyNamespace runs this very test again through
// Enter: inside, it checks the network and writes its namespace down; outside, it checks that
// the child ran, passed, and was in a namespace other than this one.
func TestEnterRunsTheProgramAgainInALoopbackOnlyNamespace(t *testing.T) {
	if in, witness := inside(t); in {
		require.NoError(t, netns.Enter(t.Context(), netns.Child{}), "inside, Enter prepares the namespace")
		require.NoError(t, netns.LoopbackOnly(net.Interfaces))
		lo, err := net.InterfaceByName("lo")
		require.NoError(t, err)
		require.NotZero(t, lo.Flags&net.FlagUp, "Enter brought loopback up")
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		conn, err := net.Dial("tcp", listener.Addr().String())
		require.NoError(t, err, "loopback carries traffic")
		_ = conn.Close()
		_ = listener.Close()
		ns, err := os.Readlink("/proc/self/ns/net")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(witness, []byte(ns), 0o600))
		return
	}
	if err := netns.CanMakePrivate(); err != nil {
		t.Skipf("not run: %v", err)
	}
	witness := filepath.Join(t.TempDir(), "inside")
	t.Setenv(witnessEnv, t.Name()+"="+witness)

	err := netns.Enter(t.Context(), netns.Child{})

	var exited *netns.Exited
	require.ErrorAs(t, err, &exited)
	assert.Equal(t, 0, exited.Code, "the test inside passed")
	inside, err := os.ReadFile(witness)
	require.NoError(t, err, "the test ran inside")
	outside, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	assert.NotEqual(t, outside, string(inside), "inside is another network namespace")
}

func TestExitCodeOfTheChildIsHandedBack(t *testing.T) {
	if in, _ := inside(t); in {
		os.Exit(7)
	}
	if err := netns.CanMakePrivate(); err != nil {
		t.Skipf("not run: %v", err)
	}
	t.Setenv(witnessEnv, t.Name()+"=")
	var exited *netns.Exited
	require.ErrorAs(t, netns.Enter(t.Context(), netns.Child{}), &exited)
	assert.Equal(t, 7, exited.Code)
}

func TestSwitchOffRefusesANamespace(t *testing.T) {
	inside(t)
	t.Setenv(netns.SwitchEnv, "off")
	err := netns.Enter(t.Context(), netns.Child{})
	var exited *netns.Exited
	require.False(t, errors.As(err, &exited), "nothing ran again")
	require.ErrorContains(t, err, netns.SwitchEnv+"=off")
}

func TestCurrent(t *testing.T) {
	inside(t)
	tests := []struct {
		value string
		set   bool
		want  netns.Where
	}{
		{set: false, want: netns.Where{}},
		{value: netns.Private, set: true, want: netns.Where{Isolated: true}},
		{value: "container:abc123", set: true, want: netns.Where{Isolated: true, Holder: "abc123"}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if tt.set {
				t.Setenv(netns.InsideEnv, tt.value)
			} else {
				t.Setenv(netns.InsideEnv, "")
				require.NoError(t, os.Unsetenv(netns.InsideEnv))
			}
			assert.Equal(t, tt.want, netns.Current())
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	inside(t)
	lo := net.Interface{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback}
	eth0 := net.Interface{Index: 2, Name: "eth0", Flags: net.FlagUp | net.FlagBroadcast}
	list := func(ifaces ...net.Interface) func() ([]net.Interface, error) {
		return func() ([]net.Interface, error) { return ifaces, nil }
	}
	require.NoError(t, netns.LoopbackOnly(list(lo)))
	require.EqualError(t, netns.LoopbackOnly(list(lo, eth0)), "this network has eth0 besides loopback")
	require.ErrorContains(t, netns.LoopbackOnly(func() ([]net.Interface, error) { return nil, errors.New("denied") }), "denied")
}
