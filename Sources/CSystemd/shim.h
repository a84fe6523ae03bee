// libsystemd's sd-daemon API (sd_notify, sd_watchdog_enabled) for the Appliance's Systemd layer.
#include <systemd/sd-daemon.h>
