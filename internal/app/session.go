package app

import (
	"context"
	"fmt"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/state"
)

// Session opens a remote session to h through its transport.
func (a *App) Session(ctx context.Context, h *state.Host) (remote.Session, error) {
	return nil, fmt.Errorf("host %s: transport %q is not available yet", h.Address, h.Transport)
}
