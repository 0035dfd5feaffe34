package app

import (
	"context"
	"log/slog"

	"github.com/labbroker/broker/executor"
)

// logEvents returns an observer that writes every executor event to the
// log file and passes it on to o (nil: none). A change's life (start,
// phases, done, notes) is logged at info, a failure at error, and each line
// of output (setup, teardown, hooks, provider progress) at debug. The
// logger masks the secrets the App knows.
func (a *App) logEvents(o executor.Observer) executor.Observer {
	log := a.Logger
	if log == nil {
		return o
	}
	return executor.ObserverFunc(func(e executor.Event) {
		logEvent(log, e)
		if o != nil {
			o.Event(e)
		}
	})
}

func logEvent(log *slog.Logger, e executor.Event) {
	level := slog.LevelInfo
	switch e.Kind {
	case executor.EventProgress:
		level = slog.LevelDebug
	case executor.EventFailed:
		level = slog.LevelError
	case executor.EventSkipped:
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("address", e.Address)
	add("host_id", e.HostID)
	add("action", e.Action.String())
	add("phase", string(e.Phase))
	add("hook", e.Hook)
	add("message", e.Message)
	add("error", e.Err)
	if e.Reason != nil {
		add("reason", string(e.Reason.Kind))
		add("reason_detail", e.Reason.Detail)
	}
	if e.Duration > 0 {
		attrs = append(attrs, slog.Duration("duration", e.Duration))
	}
	log.LogAttrs(ctx, level, "event "+string(e.Kind), attrs...)
}
