# agentgateway v1.4.1 from bin/agentgateway (installed by `make tools`: from HOPGUARD_AGENTGATEWAY
# or the official image) on a glibc base made of exactly the libraries `ldd agentgateway` lists on
# this machine (docker/build-images.sh copies them). It stands in for
# cr.agentgateway.dev/agentgateway:v1.4.1 where no registry is reachable and is used the same way:
# the binary at /app/agentgateway is the entrypoint (as in agentgateway's own Dockerfile), and
# AGENTGATEWAY_ENV=container as there.
FROM scratch
COPY rootfs/ /
ENV AGENTGATEWAY_ENV=container
USER 65532:65532
ENTRYPOINT ["/app/agentgateway"]
