package container

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTarFileSHA256(t *testing.T) {
	binary := []byte("\x7fELF not really")
	sum := sha256.Sum256(binary)
	tests := []struct {
		name    string
		entries []tar.Header
		want    string
		wantErr string
	}{
		{name: "a file", entries: []tar.Header{{Name: "app", Typeflag: tar.TypeReg, Size: int64(len(binary))}}, want: hex.EncodeToString(sum[:])},
		{name: "a directory", entries: []tar.Header{{Name: "app/", Typeflag: tar.TypeDir}}, wantErr: "not a regular file"},
		{name: "a symbolic link", entries: []tar.Header{{Name: "app", Typeflag: tar.TypeSymlink, Linkname: "/bin/sh"}}, wantErr: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w := tar.NewWriter(&b)
			for _, h := range tt.entries {
				require.NoError(t, w.WriteHeader(&h))
				if h.Typeflag == tar.TypeReg {
					_, err := w.Write(binary)
					require.NoError(t, err)
				}
			}
			require.NoError(t, w.Close())
			got, err := tarFileSHA256(&b)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := tarFileSHA256(strings.NewReader("not an archive at all, but long enough to be read as a header block"))
	assert.Error(t, err, "garbage is an error, never a digest")
}
