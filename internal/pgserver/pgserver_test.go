package pgserver_test

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/internal/pgserver"
)

// fakeBinaries makes a directory holding the named files, executable or not.
func fakeBinaries(t *testing.T, files map[string]os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode))
	}
	return dir
}

func TestFindBinaries(t *testing.T) {
	both := fakeBinaries(t, map[string]os.FileMode{"postgres": 0o755, "initdb": 0o755})
	alsoBoth := fakeBinaries(t, map[string]os.FileMode{"postgres": 0o755, "initdb": 0o755})
	onlyPostgres := fakeBinaries(t, map[string]os.FileMode{"postgres": 0o755})
	notExecutable := fakeBinaries(t, map[string]os.FileMode{"postgres": 0o644, "initdb": 0o644})
	missing := filepath.Join(t.TempDir(), "nonexistent")

	tests := []struct {
		name    string
		dirs    []string
		want    string
		wantErr string
	}{
		{name: "the only one", dirs: []string{both}, want: both},
		{name: "the first that holds both", dirs: []string{missing, onlyPostgres, both, alsoBoth}, want: both},
		{name: "empty entries skipped", dirs: []string{"", both}, want: both},
		{name: "none holds both", dirs: []string{missing, onlyPostgres, notExecutable},
			wantErr: "no directory holds both postgres and initdb of " + missing + ", " + onlyPostgres + ", " + notExecutable},
		{name: "nothing given", dirs: []string{"", ""}, wantErr: "no directory given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pgserver.FindBinaries(tt.dirs)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, pgserver.ErrNoBinaries)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func valid() pgserver.Options {
	return pgserver.Options{
		Bin:      "/usr/lib/postgresql/15/bin",
		Data:     "/srv/pg/data",
		Addr:     netip.MustParseAddrPort("127.0.0.1:5432"),
		User:     "hopguard",
		Password: "s3cret",
	}
}

func TestNewChecksOptions(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*pgserver.Options)
		wantErr []string
	}{
		{name: "valid", change: func(*pgserver.Options) {}},
		{name: "trust needs no password", change: func(o *pgserver.Options) { o.Trust, o.Password = true, "" }},
		{name: "IPv6 loopback", change: func(o *pgserver.Options) { o.Addr = netip.MustParseAddrPort("[::1]:5432") }},
		{name: "no binaries", change: func(o *pgserver.Options) { o.Bin = "" }, wantErr: []string{"no binaries directory"}},
		{name: "no data directory", change: func(o *pgserver.Options) { o.Data = "" }, wantErr: []string{"no data directory"}},
		{name: "no address", change: func(o *pgserver.Options) { o.Addr = netip.AddrPort{} }, wantErr: []string{"want IP:PORT with a port"}},
		{name: "port 0", change: func(o *pgserver.Options) { o.Addr = netip.MustParseAddrPort("127.0.0.1:0") }, wantErr: []string{"want IP:PORT with a port"}},
		{name: "zone", change: func(o *pgserver.Options) { o.Addr = netip.MustParseAddrPort("[fe80::1%lo]:5432") }, wantErr: []string{"no IPv6 zone"}},
		{name: "no user", change: func(o *pgserver.Options) { o.User = "" }, wantErr: []string{"no user name"}},
		{name: "user needing quotes", change: func(o *pgserver.Options) { o.User = "hop guard" }, wantErr: []string{`user name "hop guard"`}},
		{name: "reserved user", change: func(o *pgserver.Options) { o.User = "PG_admin" }, wantErr: []string{"PostgreSQL's own"}},
		{name: "no password", change: func(o *pgserver.Options) { o.Password = "" }, wantErr: []string{"empty password"}},
		{name: "two-line password", change: func(o *pgserver.Options) { o.Password = "a\nb" }, wantErr: []string{"line break"}},
		{name: "bad setting", change: func(o *pgserver.Options) { o.Settings = []string{"fsync"} }, wantErr: []string{`setting "fsync"`}},
		{name: "every error at once", change: func(o *pgserver.Options) { o.Bin, o.User, o.Password = "", "", "" },
			wantErr: []string{"no binaries directory", "no user name", "empty password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(&o)
			s, err := pgserver.New(o)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.NotNil(t, s)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestNewMakesTheDataDirectoryAbsolute(t *testing.T) {
	o := valid()
	o.Data = "data"
	s, err := pgserver.New(o)
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "data"), s.Data())
}

func TestCommandListensOnTheAddressAlone(t *testing.T) {
	o := valid()
	o.Addr = netip.MustParseAddrPort("[::1]:6543")
	o.Settings = []string{"fsync=off"}
	s, err := pgserver.New(o)
	require.NoError(t, err)
	cmd := s.Command(context.Background())
	assert.Equal(t, "/usr/lib/postgresql/15/bin/postgres", cmd.Path)
	assert.Equal(t, []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "/srv/pg/data",
		"-c", "listen_addresses=::1", "-p", "6543", "-c", "unix_socket_directories=", "-c", "fsync=off"}, cmd.Args)
	require.NotNil(t, cmd.SysProcAttr)
	assert.NotZero(t, cmd.SysProcAttr.Pdeathsig, "postgres dies with its parent")
	if os.Geteuid() == 0 {
		require.NotNil(t, cmd.SysProcAttr.Credential, "PostgreSQL refuses root")
		assert.Equal(t, uint32(pgserver.Nobody), cmd.SysProcAttr.Credential.Uid)
	} else {
		assert.Nil(t, cmd.SysProcAttr.Credential)
	}
	assert.NotNil(t, cmd.Cancel, "a cancelled context asks for a fast shutdown, not SIGKILL")
}

func TestInitRefusesADirectoryThatIsNoCluster(t *testing.T) {
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, "notes.txt"), []byte("mine"), 0o600))
	o := valid()
	o.Data = data
	s, err := pgserver.New(o)
	require.NoError(t, err)
	created, err := s.Init(context.Background(), io.Discard)
	assert.False(t, created)
	assert.ErrorContains(t, err, "neither empty nor a PostgreSQL cluster")
	_, statErr := os.Stat(filepath.Join(data, "notes.txt"))
	assert.NoError(t, statErr, "what was there is left alone")
}
