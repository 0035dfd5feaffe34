package main

import (
	"errors"
	"os"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/internal/redact"
	reports "github.com/labbroker/broker/internal/report"
)

// reportFlags adds --report FILE to a command that applies changes
// (apply, destroy, reap; checkout, checkin and exec embed it too).
type reportFlags struct {
	Report []string `placeholder:"FILE" sep:"none" help:"Write a report of what was done to FILE (repeatable); the format follows the extension: .xml JUnit, .ndjson or .jsonl one JSON event per line."`
}

// observer opens the report files and returns base composed with their
// writers, and a function that finishes and closes them (call it once,
// after the run, whatever its outcome). With no --report, it returns base
// and a no-op. A file that cannot be created is an error before anything
// is done. Events reach base and the reports with secrets masked.
func (r *reportFlags) observer(base executor.Observer, secrets *redact.Secrets, command, environment string) (executor.Observer, func() error, error) {
	if r == nil || len(r.Report) == 0 {
		if base != nil {
			base = masking(base, secrets)
		}
		return base, func() error { return nil }, nil
	}
	host, _ := os.Hostname()
	meta := reports.Meta{Command: command, Environment: environment, Hostname: host}
	var writers []reports.Writer
	closeAll := func() error {
		var errs []error
		for _, w := range writers {
			errs = append(errs, w.Close())
		}
		writers = nil
		return errors.Join(errs...)
	}
	obs := []executor.Observer{base}
	for _, path := range r.Report {
		w, err := reports.Create(path, meta)
		if err != nil {
			_ = closeAll()
			return nil, nil, err
		}
		writers = append(writers, w)
		obs = append(obs, w)
	}
	return masking(reports.Tee(obs...), secrets), closeAll, nil
}

// masking passes events on with secrets masked in their texts.
func masking(o executor.Observer, secrets *redact.Secrets) executor.Observer {
	return executor.ObserverFunc(func(e executor.Event) {
		e.Message, e.Err = secrets.String(e.Message), secrets.String(e.Err)
		o.Event(e)
	})
}
