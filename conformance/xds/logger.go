package xds

import (
	"context"
	"fmt"
	"log/slog"
)

// cacheLogger is go-control-plane's logger interface over slog. The cache logs every watch at
// debug level; its warnings and errors are worth reading.
type cacheLogger struct{ l *slog.Logger }

func (c cacheLogger) Debugf(format string, args ...any) { c.log(slog.LevelDebug, format, args) }
func (c cacheLogger) Infof(format string, args ...any)  { c.log(slog.LevelInfo, format, args) }
func (c cacheLogger) Warnf(format string, args ...any)  { c.log(slog.LevelWarn, format, args) }
func (c cacheLogger) Errorf(format string, args ...any) { c.log(slog.LevelError, format, args) }

func (c cacheLogger) log(level slog.Level, format string, args []any) {
	if c.l.Enabled(context.Background(), level) {
		c.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "source", "go-control-plane")
	}
}
