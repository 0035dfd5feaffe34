package remote

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// methods turns Auth into x/crypto auth methods. Key files are read and
// decrypted here, once; the returned cleanup closes the agent connection.
func (a Auth) methods() ([]ssh.AuthMethod, func(), error) {
	cleanup := func() {}
	signers := append([]ssh.Signer(nil), a.Signers...)
	for _, file := range a.PrivateKeyFiles {
		s, err := a.loadKey(file)
		if err != nil {
			return nil, cleanup, err
		}
		signers = append(signers, s)
	}
	var ag agent.ExtendedAgent
	if a.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		switch {
		case sock != "":
			conn, err := net.Dial("unix", sock)
			if err != nil {
				return nil, cleanup, fmt.Errorf("ssh agent at %s: %w", sock, err)
			}
			ag = agent.NewClient(conn)
			cleanup = func() { conn.Close() }
		case len(signers) == 0 && a.Password == "":
			return nil, cleanup, errors.New("ssh agent requested but SSH_AUTH_SOCK is not set")
		}
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 || ag != nil {
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			all := signers
			if ag != nil {
				more, err := ag.Signers()
				if err != nil {
					return nil, fmt.Errorf("ssh agent: %w", err)
				}
				all = append(all[:len(all):len(all)], more...)
			}
			return all, nil
		}))
	}
	if a.Password != "" {
		pw := a.Password
		methods = append(methods,
			ssh.Password(pw),
			// Servers with PasswordAuthentication off often ask through
			// keyboard-interactive (PAM) instead.
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		cleanup()
		return nil, func() {}, errors.New("no credentials: set a password, private key files, signers or the agent")
	}
	return methods, cleanup, nil
}

func (a Auth) loadKey(file string) (ssh.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if a.Passphrase == nil {
			return nil, fmt.Errorf("private key %s is encrypted and no passphrase source is configured", file)
		}
		pass, perr := a.Passphrase(file)
		if perr != nil {
			return nil, fmt.Errorf("passphrase for %s: %w", file, perr)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(data, pass)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", file, err)
	}
	return s, nil
}
