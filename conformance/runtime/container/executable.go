package container

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/hopguard/hopguard/conformance/env"
)

// Executable is what the container of a program runs, as a process of this machine that
// inspects it sees: the user the runtime runs it as and the sha256 of its image's entrypoint
// (what /proc/<pid>/exe of its process reads). SPIRE's agent attests the container by them.
type Executable struct {
	UID    int
	SHA256 string
	// Image is the image it was read from.
	Image string
}

// ProgramExecutable reads the Executable of program p's image (Images(os.LookupEnv) chooses
// it) out of the image, without running it: through a container that is created, copied from
// and removed, never started.
func ProgramExecutable(ctx context.Context, p env.Program) (Executable, error) {
	image, err := Images(os.LookupEnv)(p)
	if err != nil {
		return Executable{}, err
	}
	docker, err := engine(ctx)
	if err != nil {
		return Executable{}, err
	}
	inspected, err := docker.ImageInspect(ctx, image.Ref)
	if err != nil {
		return Executable{}, fmt.Errorf("inspect image %s: %w", image.Ref, err)
	}
	if inspected.Config == nil || len(inspected.Config.Entrypoint) == 0 {
		return Executable{}, fmt.Errorf("image %s has no entrypoint: which executable its container runs depends on its command", image.Ref)
	}
	entrypoint := inspected.Config.Entrypoint[0]
	sum, err := imageFileSHA256(ctx, docker, image.Ref, entrypoint)
	if err != nil {
		return Executable{}, fmt.Errorf("the entrypoint %s of image %s: %w", entrypoint, image.Ref, err)
	}
	user := containerUser()
	return Executable{UID: user.uid, SHA256: sum, Image: image.Ref}, nil
}

// imageFileSHA256 is the sha256 of the regular file at path in image.
func imageFileSHA256(ctx context.Context, docker *client.Client, image, path string) (string, error) {
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Labels: map[string]string{LabelComponent: "read-executable"}},
		HostConfig: &container.HostConfig{NetworkMode: network.NetworkNone},
	})
	if err != nil {
		return "", fmt.Errorf("create a container to read it from: %w", err)
	}
	defer func() {
		remove, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
		defer cancel()
		_, _ = docker.ContainerRemove(remove, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	copied, err := docker.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return "", fmt.Errorf("copy it out: %w", err)
	}
	defer copied.Content.Close()
	return tarFileSHA256(copied.Content)
}

// tarFileSHA256 is the sha256 of the one regular file in a tar archive, which is what the
// engine sends for a file's path.
func tarFileSHA256(archive io.Reader) (string, error) {
	r := tar.NewReader(archive)
	for {
		header, err := r.Next()
		if errors.Is(err, io.EOF) {
			return "", errors.New("it is not a regular file")
		}
		if err != nil {
			return "", fmt.Errorf("read the archive: %w", err)
		}
		if header.Typeflag != tar.TypeReg {
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return "", fmt.Errorf("read %s: %w", header.Name, err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
}
