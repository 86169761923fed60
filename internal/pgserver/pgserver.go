// Package pgserver runs a real PostgreSQL server from a distribution's binaries (Debian's
// postgresql-15): it finds them, initialises a cluster with initdb when there is none yet, and
// builds the postgres command that serves it on one TCP address and nothing else. PostgreSQL
// refuses to run as root, so when this process is root both run as nobody.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Nobody is the uid and gid initdb and postgres run as when this process is root.
const Nobody = 65534

// shutdownTimeout bounds a fast shutdown (open connections cut, a checkpoint, then exit) after
// the command's context ends; then postgres is killed, as it would be by a container engine.
const shutdownTimeout = 30 * time.Second

// ErrNoBinaries is returned by FindBinaries when no directory holds PostgreSQL's programs.
var ErrNoBinaries = errors.New("no directory holds both postgres and initdb")

// FindBinaries returns the first of dirs that holds both postgres and initdb: a search path,
// so that one argument works wherever the programs are installed. Empty entries are skipped.
func FindBinaries(dirs []string) (string, error) {
	var tried []string
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if isExecutable(filepath.Join(dir, "postgres")) && isExecutable(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("%w: no directory given", ErrNoBinaries)
	}
	return "", fmt.Errorf("%w of %s", ErrNoBinaries, strings.Join(tried, ", "))
}

// Options say which cluster a Server runs, and how.
type Options struct {
	// Bin is the directory of postgres and initdb (FindBinaries). initdb finds the share files
	// (postgres.bki, timezone sets) relative to it, so it is the installed directory itself.
	Bin string
	// Data is the cluster's data directory. Its parent must exist; Init creates it.
	Data string
	// Addr is the one address postgres listens on (TCP; there is no unix socket).
	Addr netip.AddrPort
	// User is the superuser role initdb creates.
	User string
	// Password is User's password, which every connection must give (scram-sha-256).
	Password string
	// Trust lets every connection in without a password, as any role: for tests only. Password
	// is then not needed.
	Trust bool
	// Settings are more server settings, "name=value", each passed as -c (a test's fsync=off).
	Settings []string
}

// Server is one PostgreSQL cluster and the commands that initialise and serve it.
type Server struct {
	opts Options
	// cred is who initdb and postgres run as; nil is this process's own user.
	cred *syscall.Credential
}

// New checks o and returns the server it describes. Nothing runs yet.
func New(o Options) (*Server, error) {
	var errs []error
	if o.Bin == "" {
		errs = append(errs, errors.New("no binaries directory"))
	}
	if o.Data == "" {
		errs = append(errs, errors.New("no data directory"))
	} else if abs, err := filepath.Abs(o.Data); err != nil {
		errs = append(errs, fmt.Errorf("data directory: %w", err))
	} else {
		o.Data = abs
	}
	if !o.Addr.IsValid() || o.Addr.Port() == 0 {
		errs = append(errs, fmt.Errorf("address %q: want IP:PORT with a port", o.Addr))
	} else if o.Addr.Addr().Zone() != "" {
		errs = append(errs, fmt.Errorf("address %s: postgres takes no IPv6 zone", o.Addr))
	}
	if err := CheckRole(o.User); err != nil {
		errs = append(errs, err)
	}
	if !o.Trust {
		if err := CheckPassword(o.Password); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range o.Settings {
		if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
			errs = append(errs, fmt.Errorf("setting %q: want name=value", s))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	s := &Server{opts: o}
	if os.Geteuid() == 0 {
		s.cred = &syscall.Credential{Uid: Nobody, Gid: Nobody}
	}
	return s, nil
}

// roleName is the role names initdb is given here: plain identifiers, which need no quoting in
// a connection string or SQL, within PostgreSQL's 63 bytes.
var roleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// CheckRole says whether name can be the cluster's superuser.
func CheckRole(name string) error {
	switch {
	case name == "":
		return errors.New("no user name")
	case !roleName.MatchString(name):
		return fmt.Errorf("user name %q: want a letter or _, then letters, digits or _ (at most 63)", name)
	case strings.HasPrefix(strings.ToLower(name), "pg_"):
		// initdb refuses it: the prefix is reserved for PostgreSQL's own roles.
		return fmt.Errorf("user name %q: names beginning with pg_ are PostgreSQL's own", name)
	}
	return nil
}

// CheckPassword says whether p can be the superuser's password: initdb reads one line of its
// password file, so a password holding a line break would be cut short without a word.
func CheckPassword(p string) error {
	switch {
	case p == "":
		return errors.New("empty password")
	case strings.ContainsAny(p, "\r\n\x00"):
		return errors.New("the password holds a line break or NUL: initdb would take only its first line")
	}
	return nil
}

// Data is the data directory, absolute.
func (s *Server) Data() string { return s.opts.Data }

// Init initialises a cluster in the data directory when there is none: when the directory is
// absent or empty. It says whether it did. A directory that holds something other than a
// cluster is an error, not initialised over. initdb's output goes to out; cancelling ctx
// interrupts it, and it removes what it wrote.
func (s *Server) Init(ctx context.Context, out io.Writer) (created bool, err error) {
	needed, exists, err := s.needsInit()
	if err != nil || !needed {
		return false, err
	}
	if err := s.checkUserName(); err != nil {
		return false, err
	}
	if err := s.prepareData(exists); err != nil {
		return false, err
	}
	args := []string{"-D", s.opts.Data, "-U", s.opts.User, "-E", "UTF8",
		// The C locale: the same sort order everywhere, and no system locales to install in an
		// image.
		"--no-locale", "--no-sync", "--no-instructions"}
	if s.opts.Trust {
		args = append(args, "--auth=trust")
	} else {
		pwfile, err := s.writePasswordFile()
		if err != nil {
			return false, err
		}
		defer os.Remove(pwfile)
		args = append(args, "--auth=scram-sha-256", "--pwfile="+pwfile)
	}
	cmd := s.command(ctx, "initdb", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("initdb %s: interrupted (%w): %w", s.opts.Data, context.Cause(ctx), err)
		}
		return false, fmt.Errorf("initdb %s: %w", s.opts.Data, err)
	}
	return true, nil
}

// Command is postgres serving the cluster on Options.Addr alone, with no unix socket, and
// fsync as configured (on, unless Settings turn it off). Its stdout and stderr are the
// caller's to set. Cancelling ctx asks it for a fast shutdown, SIGINT (open connections are
// cut, a checkpoint is written, then it exits), and kills it if that takes longer than 30s.
func (s *Server) Command(ctx context.Context) *exec.Cmd {
	args := []string{"-D", s.opts.Data,
		"-c", "listen_addresses=" + s.opts.Addr.Addr().String(),
		"-p", strconv.Itoa(int(s.opts.Addr.Port())),
		// Empty: no unix socket, so nothing is written outside the data directory (a container's
		// root file system is read-only) and every client comes by TCP, with a password.
		"-c", "unix_socket_directories="}
	for _, setting := range s.opts.Settings {
		args = append(args, "-c", setting)
	}
	return s.command(ctx, "postgres", args...)
}

// command is one of PostgreSQL's programs, run as s.cred, killed when this process dies (a
// database server left running would hold its port and data directory), interrupted with
// SIGINT when ctx ends: fast shutdown for postgres, clean-up and exit for initdb.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.opts.Bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = shutdownTimeout
	return cmd
}

// needsInit says whether the data directory is to be initialised (it is absent or empty) and
// whether it exists.
func (s *Server) needsInit() (needed, exists bool, err error) {
	entries, err := os.ReadDir(s.opts.Data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, false, nil
	case err != nil:
		return false, false, fmt.Errorf("read the data directory: %w", err)
	case len(entries) == 0:
		return true, true, nil
	}
	if _, err := os.Stat(filepath.Join(s.opts.Data, "PG_VERSION")); err != nil {
		return false, true, fmt.Errorf("data directory %s is neither empty nor a PostgreSQL cluster (no PG_VERSION); remove it to start afresh", s.opts.Data)
	}
	return false, true, nil
}

// prepareData makes sure the data directory exists and belongs to the user PostgreSQL runs as.
func (s *Server) prepareData(exists bool) error {
	if !exists {
		// Mode 0700: PostgreSQL refuses a data directory others may read.
		if err := os.Mkdir(s.opts.Data, 0o700); err != nil {
			return fmt.Errorf("create the data directory: %w", err)
		}
	}
	if s.cred != nil {
		if err := os.Chown(s.opts.Data, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("hand the data directory to uid %d: %w", s.cred.Uid, err)
		}
	}
	return nil
}

// checkUserName fails early, and says why, where initdb would: it names the cluster's files'
// owner by the user name of its uid, which a container's /etc/passwd may not have.
func (s *Server) checkUserName() error {
	uid := os.Geteuid()
	if s.cred != nil {
		uid = int(s.cred.Uid)
	}
	if _, err := user.LookupId(strconv.Itoa(uid)); err != nil {
		return fmt.Errorf("initdb needs a user name for uid %d, and there is none (%w): run as a user /etc/passwd names", uid, err)
	}
	return nil
}

// writePasswordFile writes the password where initdb can read it and nobody else: beside the
// data directory (which must be empty for initdb, and /tmp may not exist), mode 0600, owned by
// the user initdb runs as. The caller's own file may be readable only by this process's user,
// and may end in a newline or not.
func (s *Server) writePasswordFile() (string, error) {
	f, err := os.CreateTemp(filepath.Dir(s.opts.Data), ".pgserver-password-")
	if err != nil {
		return "", fmt.Errorf("write initdb's password file: %w", err)
	}
	name := f.Name()
	_, err = f.WriteString(s.opts.Password + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.cred != nil {
		err = os.Chown(name, int(s.cred.Uid), int(s.cred.Gid))
	}
	if err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("write initdb's password file: %w", err)
	}
	return name, nil
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}
