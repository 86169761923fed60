# One of hopguard's commands (synapse, agent, mockllm, mockmcp, mocksts, istio-xds) on an empty
# image: the binary is static (CGO_ENABLED=0), so nothing else is needed and nothing else is
# there to attack. docker/build-images.sh compiles it into the build context first, because
# these machines cannot pull a Go builder image.
FROM scratch
ARG BINARY
COPY ${BINARY} /app
COPY passwd group /etc/
USER 65532:65532
ENTRYPOINT ["/app"]
