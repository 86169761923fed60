package audit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadLog(t *testing.T) {
	dir := t.TempDir()
	whole := `{"decision_id":"a","effect":"allow"}` + "\n" + `{"decision_id":"b","effect":"deny","code":"model_not_allowed"}` + "\n"
	tests := []struct {
		name    string
		content *string
		offset  int64
		wantIDs []string
		wantEnd int64
		wantErr string
	}{
		{name: "no log yet", content: nil, wantEnd: 0},
		{name: "two records", content: ptr(whole), wantIDs: []string{"a", "b"}, wantEnd: int64(len(whole))},
		{name: "from an offset", content: ptr(whole), offset: int64(len(`{"decision_id":"a","effect":"allow"}` + "\n")), wantIDs: []string{"b"}, wantEnd: int64(len(whole))},
		{name: "a line still being written waits", content: ptr(whole + `{"decision_id":"c"`), wantIDs: []string{"a", "b"}, wantEnd: int64(len(whole))},
		{name: "blank lines", content: ptr("\n" + whole), wantIDs: []string{"a", "b"}, wantEnd: int64(len(whole)) + 1},
		{name: "a whole line that is no record", content: ptr("not json\n"), wantErr: "at byte 9"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "audit", string(rune('a'+i))+".ndjson")
			if tt.content != nil {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(*tt.content), 0o600))
			}
			recs, end, err := ReadLog(path, tt.offset)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.DecisionID)
			}
			assert.Equal(t, tt.wantIDs, ids)
			assert.Equal(t, tt.wantEnd, end)
		})
	}
}

func ptr(s string) *string { return &s }
