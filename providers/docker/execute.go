package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/providers"
)

// Execute runs a one-off container of args image with req.Command (the
// image's command when empty), streams its output to req.Stdout and
// req.Stderr (captured into the result when nil), and removes it. Status
// is the command's exit status.
func (p *Provider) Execute(ctx context.Context, req providers.ExecuteRequest) (providers.ExecuteResponse, error) {
	a, err := decodeArgs(req.Args)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	if a.Image == "" {
		return providers.ExecuteResponse{}, errors.New("argument image is required")
	}
	if err := p.ping(ctx); err != nil {
		return providers.ExecuteResponse{}, err
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	pull := a.Pull
	if pull == "" {
		pull = p.set.Pull
	}
	if err := p.ensureImage(ctx, a.Image, pull, progress); err != nil {
		return providers.ExecuteResponse{}, err
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(a.Env)) {
		env = append(env, k+"="+a.Env[k])
	}
	name := p.set.NamePrefix + "-exec-" + randomSuffix()
	if a.Name != "" {
		name = a.Name
	}
	own := map[string]string{LabelProvider: "docker", LabelInstance: p.instance, LabelExecute: "true", providers.LabelUser: p.user}
	maps.Copy(own, req.Labels)
	cfg := &container.Config{
		Image:        a.Image,
		Env:          env,
		User:         a.User,
		WorkingDir:   a.WorkDir,
		Hostname:     a.Hostname,
		AttachStdout: true,
		AttachStderr: true,
		Labels:       containerLabels(own, a),
	}
	if len(req.Command) > 0 {
		cfg.Cmd = req.Command
	} else if len(a.Command) > 0 {
		cfg.Cmd = a.Command
	}
	if len(a.Entrypoint) > 0 {
		cfg.Entrypoint = a.Entrypoint
	}
	hc := &container.HostConfig{Privileged: a.Privileged}
	if a.Network != "" {
		hc.NetworkMode = container.NetworkMode(a.Network)
	}
	if len(a.Volumes) > 0 {
		for _, v := range a.Volumes {
			if strings.Contains(v, ":") {
				hc.Binds = append(hc.Binds, v)
			} else {
				if cfg.Volumes == nil {
					cfg.Volumes = map[string]struct{}{}
				}
				cfg.Volumes[v] = struct{}{}
			}
		}
	}
	if err := applyEngineOptions(cfg, hc, a); err != nil {
		return providers.ExecuteResponse{}, err
	}
	created, err := p.api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		return providers.ExecuteResponse{}, p.engineErr(fmt.Errorf("create container %s: %w", name, err))
	}
	id := created.ID
	defer func() {
		if err := p.remove(context.WithoutCancel(ctx), id); err != nil && !cerrdefs.IsNotFound(err) {
			p.logger.Warn("remove one-off container", "container", name, "err", err)
		}
	}()

	// Attach and register the wait before starting, so no output and no
	// exit is missed.
	att, err := p.api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return providers.ExecuteResponse{}, p.engineErr(fmt.Errorf("attach to container %s: %w", name, err))
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	wait := p.api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})

	var outBuf, errBuf bytes.Buffer
	stdout, stderr := req.Stdout, req.Stderr
	if stdout == nil {
		stdout = &outBuf
	}
	if stderr == nil {
		stderr = &errBuf
	}
	var copyErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if cfg.Tty {
			// A terminal's output is one stream, not multiplexed.
			_, copyErr = io.Copy(stdout, att.Reader)
			return
		}
		_, copyErr = stdcopy.StdCopy(stdout, stderr, att.Reader)
	})

	if _, err := p.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		att.Close()
		wg.Wait()
		return providers.ExecuteResponse{}, p.engineErr(fmt.Errorf("start container %s: %w", name, err))
	}
	progress(fmt.Sprintf("running %s in container %s", a.Image, name))
	status := -1
	select {
	case w := <-wait.Result:
		status = int(w.StatusCode)
		if w.Error != nil && w.Error.Message != "" {
			err = errors.New(w.Error.Message)
		}
	case err = <-wait.Error:
	}
	// The stream ends once the container has exited and its output is
	// flushed.
	wg.Wait()
	if ctx.Err() != nil {
		return providers.ExecuteResponse{Status: -1}, fmt.Errorf("execute in container %s: %w", name, ctx.Err())
	}
	if err != nil {
		return providers.ExecuteResponse{Status: -1}, p.engineErr(fmt.Errorf("wait for container %s: %w", name, err))
	}
	if copyErr != nil && !errors.Is(copyErr, io.EOF) {
		return providers.ExecuteResponse{Status: status}, fmt.Errorf("read output of container %s: %w", name, copyErr)
	}
	result := map[string]any{"container": name, "image": a.Image, "status": status}
	if req.Stdout == nil {
		result["stdout"] = outBuf.String()
	}
	if req.Stderr == nil {
		result["stderr"] = errBuf.String()
	}
	return providers.ExecuteResponse{Result: result, Status: status}, nil
}
