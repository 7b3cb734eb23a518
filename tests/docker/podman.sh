# Sourced by the docker tests and the demo: the verified podman recipe
# (docs/operations.md, "Running the images with podman").
#  1. the default ulimits exceed this machine's hard limit -> default_ulimits = []
#  2. crun refuses the hybrid cgroup layout -> runc
#  3. host network: no CNI setup, loopback servers reachable
# Sets P (the podman command), BASE_IMAGE and the test images' tags.
if [ -z "${CONTAINERS_CONF:-}" ]; then
	COVSHIP_CONTAINERS_CONF=${TMPDIR:-/tmp}/covship-containers.conf
	if [ ! -s "$COVSHIP_CONTAINERS_CONF" ]; then
		printf '[containers]\ndefault_ulimits = []\n' >"$COVSHIP_CONTAINERS_CONF.$$"
		mv "$COVSHIP_CONTAINERS_CONF.$$" "$COVSHIP_CONTAINERS_CONF"
	fi
	export CONTAINERS_CONF="$COVSHIP_CONTAINERS_CONF"
fi
P="podman --runtime /usr/sbin/runc"
BASE_IMAGE=${COVSHIP_BASE_IMAGE:-localhost/bookworm:base}
# The test images (tests/docker/images.sh builds them from the Dockerfiles).
# COVSHIP_TEST_IMAGE_TAG: another tag, for trees tested side by side on one
# machine (each builds and runs its own images).
_tag=${COVSHIP_TEST_IMAGE_TAG:-test}
BUILD_IMG=localhost/covship-build:$_tag
SIDECAR_IMG=localhost/covship-sidecar:$_tag
APP_IMG=localhost/covship-example-app:$_tag
