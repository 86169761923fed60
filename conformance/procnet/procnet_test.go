package procnet

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestParseKeepsListeningSocketsOnly(t *testing.T) {
	tests := []struct {
		name  string
		proto string
		rows  []string
		want  []Socket
	}{
		{
			name:  "tcp: listening on loopback and on every interface; an established connection is not listening",
			proto: "tcp",
			rows: []string{
				"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0",
				"   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0",
				"   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 20 4 30 10 -1",
			},
			want: []Socket{
				{Proto: "tcp", Local: netip.MustParseAddrPort("127.0.0.1:8080"), Inode: 4242},
				{Proto: "tcp", Local: netip.MustParseAddrPort("0.0.0.0:3000"), Inode: 4343},
			},
		},
		{
			name:  "tcp6: ::1, ::, and a v4-mapped loopback address",
			proto: "tcp6",
			rows: []string{
				"   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1 0000000000000000 100 0 0 10 0",
				"   1: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1 0000000000000000 100 0 0 10 0",
				"   2: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 13 1 0000000000000000 100 0 0 10 0",
			},
			want: []Socket{
				{Proto: "tcp6", Local: netip.MustParseAddrPort("[::1]:8080"), Inode: 11},
				{Proto: "tcp6", Local: netip.MustParseAddrPort("[::]:3000"), Inode: 12},
				{Proto: "tcp6", Local: netip.MustParseAddrPort("127.0.0.1:80"), Inode: 13},
			},
		},
		{
			name:  "udp: a bound socket reports state 07",
			proto: "udp",
			rows: []string{
				"  1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0000000000000000 0",
				"  2: 0100007F:14E9 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 78 2 0000000000000000 0",
			},
			want: []Socket{{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:5353"), Inode: 77}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(strings.NewReader(header+strings.Join(tt.rows, "\n")+"\n"), tt.proto)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRefusesWhatItCannotRead(t *testing.T) {
	for _, row := range []string{
		"   0: 0100007F:1F90 00000000:0000 0A",
		"   0: 0100007FXX:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1",
		"   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1",
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 inode 1",
	} {
		_, err := parse(strings.NewReader(header+row+"\n"), "tcp")
		assert.Error(t, err, row)
	}
}

// This process's own listener shows in its namespace's table, and its inode among its sockets.
func TestListeningAndSocketInodesOfThisProcess(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })
	addr := netip.MustParseAddrPort(listener.Addr().String())

	sockets, err := Listening("/proc", os.Getpid())
	require.NoError(t, err)
	owned := SocketInodes("/proc", os.Getpid())
	var found bool
	for _, s := range sockets {
		if s.Proto == "tcp" && s.Local == addr {
			found = true
			assert.True(t, owned[s.Inode], "this process owns its listener's inode")
		}
	}
	assert.True(t, found, "the listener on %s is in the table", addr)

	ns, err := Namespace("/proc", os.Getpid())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ns, "net:["), ns)
}
