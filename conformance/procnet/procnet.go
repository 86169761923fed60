// Package procnet reads, from /proc, which sockets listen in a process's network namespace and
// which processes own them: the evidence that nothing a run started listens on an interface of
// the host (conformance's TestNothingListensBeyondLoopbackOnTheHost).
package procnet

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Socket is a listening socket: a TCP socket in LISTEN, or a UDP socket bound and unconnected.
type Socket struct {
	Proto string // tcp, tcp6, udp, udp6
	Local netip.AddrPort
	Inode uint64
}

// Kernel socket states in /proc/net/{tcp,udp}: TCP_LISTEN, and TCP_CLOSE, which a bound
// unconnected UDP socket reports.
const (
	stateListen = "0A"
	stateClose  = "07"
)

// Listening returns the listening sockets of the network namespace of process pid, as
// procRoot (normally "/proc") shows them.
func Listening(procRoot string, pid int) ([]Socket, error) {
	var all []Socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "net", proto))
		if os.IsNotExist(err) {
			continue // no IPv6, say
		}
		if err != nil {
			return nil, fmt.Errorf("read listening sockets: %w", err)
		}
		sockets, err := parse(f, proto)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s of process %d: %w", proto, pid, err)
		}
		all = append(all, sockets...)
	}
	return all, nil
}

// parse reads one /proc/net/{tcp,tcp6,udp,udp6} table and keeps its listening sockets.
func parse(r io.Reader, proto string) ([]Socket, error) {
	want := stateListen
	if strings.HasPrefix(proto, "udp") {
		want = stateClose
	}
	var sockets []Socket
	scanner := bufio.NewScanner(r)
	for line := 0; scanner.Scan(); line++ {
		fields := strings.Fields(scanner.Text())
		if line == 0 {
			continue // the header
		}
		if len(fields) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 10", line+1, len(fields))
		}
		if fields[3] != want {
			continue
		}
		local, err := parseAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line+1, err)
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: inode: %w", line+1, err)
		}
		sockets = append(sockets, Socket{Proto: proto, Local: local, Inode: inode})
	}
	return sockets, scanner.Err()
}

// parseAddr reads the kernel's "ADDR:PORT" in hex, the address as 32-bit words in host (little
// endian on the machines hopguard runs on) byte order, the port big endian.
func parseAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q: no port", s)
	}
	raw, err := hex.DecodeString(hexAddr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: not 4 or 16 bytes of hex", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port: %w", s, err)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// SocketInodes returns the inodes of the sockets process pid holds open. A process that is
// gone, or whose descriptors this user may not read, holds none as far as can be told.
func SocketInodes(procRoot string, pid int) map[uint64]bool {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	inodes := map[uint64]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if rest, ok := strings.CutPrefix(target, "socket:["); ok {
			if inode, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
				inodes[inode] = true
			}
		}
	}
	return inodes
}

// Namespace is the network namespace of process pid ("net:[4026531833]").
func Namespace(procRoot string, pid int) (string, error) {
	ns, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "ns", "net"))
	if err != nil {
		return "", fmt.Errorf("network namespace of process %d: %w", pid, err)
	}
	return ns, nil
}

// InNamespace returns every process in network namespace ns, but the caller.
func InNamespace(procRoot, ns string) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if theirs, err := Namespace(procRoot, pid); err == nil && theirs == ns {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
