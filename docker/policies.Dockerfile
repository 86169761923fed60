# policies/bundle as an OCI image, for Kubernetes to mount as an image volume beside Cerbos
# (deploy/kubernetes): the image is the policy set, its tag the set's version. Nothing runs in it.
FROM scratch
COPY bundle/ /
