// Package netns runs a hopguard program again inside a network namespace whose only interface
// is loopback, so that nothing the run starts can listen on, or be reached from, any interface
// of the host.
//
// Why: agentgateway v1.4.1 has no listen address and binds its gateway port on every interface;
// in such a namespace "every interface" is loopback. It also ends port clashes with other
// software on the machine, since each run has ports of its own.
//
// The program calls Enter first thing. On the host, Enter starts the same executable with the
// same arguments inside a namespace (a private one it makes, or one a container holds), waits
// for it and hands back its exit code; inside, Enter brings loopback up and returns at once.
// Where no namespace can be made (no root and no user namespaces), Enter says why and the
// program goes on on the host's network.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	goruntime "runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// InsideEnv marks a program that Enter started inside a namespace; its value says whose:
// "private" for one Enter made, "container:<id>" for a container's.
const InsideEnv = "HOPGUARD_NETNS"

// SwitchEnv turns isolation off when set to "off": the run stays on the host's network, and
// agentgateway is then not run.
const SwitchEnv = "HOPGUARD_NETNS_SWITCH"

// Private is InsideEnv's value for a namespace Enter made itself.
const Private = "private"

// Where is the network a program runs in.
type Where struct {
	// Isolated is true inside a loopback-only namespace that Enter set up.
	Isolated bool
	// Holder is the container whose namespace the program shares ("" for a private one).
	Holder string
	// Why is, on the host, why the run is not isolated.
	Why error
}

// Current says where this program runs, from InsideEnv; on the host, Why is nil.
func Current() Where {
	v, ok := os.LookupEnv(InsideEnv)
	if !ok {
		return Where{}
	}
	if id, ok := strings.CutPrefix(v, "container:"); ok {
		return Where{Isolated: true, Holder: id}
	}
	return Where{Isolated: true}
}

// Off says whether the user turned isolation off with SwitchEnv.
func Off() bool { return os.Getenv(SwitchEnv) == "off" }

// Child is how Enter starts the program again.
type Child struct {
	// Holder, when set, names the container whose namespace the child joins (HolderPID is its
	// process); otherwise the child gets a private namespace of its own.
	Holder    string
	HolderPID int
}

// Exited is returned by Enter when the program ran again inside a namespace: the caller exits
// with Code and does nothing else.
type Exited struct{ Code int }

func (e *Exited) Error() string {
	return fmt.Sprintf("ran inside a network namespace, exit code %d", e.Code)
}

// Enter runs the program again inside a network namespace as child says, and returns *Exited
// with its exit code; or, inside one already, prepares it and returns nil. Any other error
// means no namespace could be entered, and says why: the caller may go on on the host.
func Enter(ctx context.Context, child Child) error {
	if where := Current(); where.Isolated {
		return prepareInside(where)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to run it again: %w", err)
	}
	var cmd *exec.Cmd
	if child.Holder != "" {
		nsenter, err := exec.LookPath("nsenter")
		if err != nil {
			return fmt.Errorf("joining the network namespace of container %s needs nsenter (util-linux): %w", short(child.Holder), err)
		}
		args := append([]string{fmt.Sprintf("--net=/proc/%d/ns/net", child.HolderPID), "--", exe}, os.Args[1:]...)
		cmd = exec.Command(nsenter, args...)
		cmd.Env = append(os.Environ(), InsideEnv+"=container:"+child.Holder)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	} else {
		if err := CanMakePrivate(); err != nil {
			return err
		}
		cmd = exec.Command(exe, os.Args[1:]...)
		cmd.Env = append(os.Environ(), InsideEnv+"="+Private)
		cmd.SysProcAttr = privateNamespace()
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return &Exited{Code: runForwardingSignals(ctx, cmd)}
}

// CanMakePrivate says whether this process can make a private network namespace here (root,
// or unprivileged user namespaces), by making one for a process that exits at once.
func CanMakePrivate() error {
	if Off() {
		return fmt.Errorf("%s=off", SwitchEnv)
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return fmt.Errorf("probe for network namespaces: %w", err)
	}
	probe := exec.Command(truePath)
	probe.SysProcAttr = privateNamespace()
	if err := probe.Run(); err != nil {
		return fmt.Errorf("no network namespace can be made here (it needs root or unprivileged user namespaces): %w", err)
	}
	return nil
}

// privateNamespace makes the child's own network namespace: directly as root, otherwise inside
// a user namespace in which the user is root (which unprivileged user namespaces allow).
func privateNamespace() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGTERM}
	if uid := os.Getuid(); uid != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
}

// runForwardingSignals runs cmd to its end and returns its exit code. SIGINT and SIGTERM are
// passed on rather than obeyed, so that the child, which owns everything the run started, is
// the one to stop it all; a terminal's Ctrl-C reaches both, and the child stops once.
func runForwardingSignals(ctx context.Context, cmd *exec.Cmd) int {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	// Pdeathsig fires when the thread that started the child exits, not the process: keep
	// this goroutine on its thread until the child is gone.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "netns: start %s: %v\n", cmd.Path, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-signals:
			if s == syscall.SIGTERM {
				_ = cmd.Process.Signal(s)
			}
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			ctx = context.Background()
		case err := <-done:
			var exit *exec.ExitError
			switch {
			case err == nil:
				return 0
			case errors.As(err, &exit) && exit.ExitCode() >= 0:
				return exit.ExitCode()
			default:
				fmt.Fprintf(os.Stderr, "netns: %s: %v\n", cmd.Path, err)
				return 1
			}
		}
	}
}

// prepareInside brings loopback up in a private namespace (a new one starts with it down) and
// checks that it is the only interface.
func prepareInside(where Where) error {
	if where.Holder == "" {
		if err := LoopbackUp(); err != nil {
			return err
		}
	}
	return LoopbackOnly(net.Interfaces)
}

// LoopbackOnly fails when list names an interface other than loopback.
func LoopbackOnly(list func() ([]net.Interface, error)) error {
	ifaces, err := list()
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("this network has %s besides loopback", iface.Name)
		}
	}
	return nil
}

// LoopbackUp brings loopback up in the network namespace of the calling thread: a new namespace
// starts with it down.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring loopback up: read its flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
