/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app-policy.h"
#include "config.h"
#include "macro.h"

/* systemd.special(7) of systemd 252 and later, the targets of both managers. An app of
 * that name would put its APP.target into the generator directory, which outranks
 * /usr/lib/systemd, and replace the boot target or what it pulls in. */
static const char *const special_targets[] = {
        "basic", "bluetooth", "boot-complete", "cryptsetup", "cryptsetup-pre", "ctrl-alt-del", "default",
        "emergency", "exit", "factory-reset", "final", "first-boot-complete", "getty", "getty-pre", "graphical",
        "halt", "hibernate", "hybrid-sleep", "initrd", "initrd-fs", "initrd-root-device", "initrd-root-fs",
        "initrd-switch-root", "initrd-usr-fs", "integritysetup", "integritysetup-pre", "kbrequest", "kexec",
        "local-fs", "local-fs-pre", "machines", "multi-user", "network", "network-online", "network-pre",
        "nss-lookup", "nss-user-lookup", "paths", "poweroff", "printer", "reboot", "remote-cryptsetup",
        "remote-fs", "remote-fs-pre", "remote-veritysetup", "rescue", "rpcbind", "runlevel0", "runlevel1",
        "runlevel2", "runlevel3", "runlevel4", "runlevel5", "runlevel6", "shutdown", "sigpwr", "sleep",
        "slices", "smartcard", "sockets", "soft-reboot", "sound", "storage-target-mode", "suspend",
        "suspend-then-hibernate", "swap", "sysinit", "system-update", "system-update-pre", "time-set",
        "time-sync", "timers", "tpm2", "umount", "usb-gadget", "veritysetup", "veritysetup-pre",
};
static const char *const special_user_targets[] = {
        "graphical-session", "graphical-session-pre", "xdg-desktop-autostart",
};

static const char *const unit_suffixes[] = {
        ".service", ".socket", ".target", ".slice", ".scope", ".mount", ".automount",
        ".swap", ".path", ".timer", ".device",
};

/* Runtime directories of systemd, of the base system and of sockd itself, relative to
 * /run (system) or $XDG_RUNTIME_DIR (user): used whether or not a file says so. */
static const char *const reserved_system_dirs[] = {
        "systemd", "user", "log", "lock", "shm", "sockd", "dbus", "udev", "credentials", "host", "mount",
        "initramfs", "nologin", "utmp", "sudo", "sendsigs.omit.d", "tmpfiles.d", "sysusers.d", "binfmt.d",
        "modules-load.d", "sysctl.d", "environment.d", "extensions", "confexts", "machines", "portables",
        "private", "network", "netns", "resolvconf", "console-setup", "blkid", "cryptsetup", "lvm", "mdadm",
        "media", "motd.d", "issue.d",
};
static const char *const reserved_user_dirs[] = {
        "systemd", "sockd", "bus", "dbus-1", "pulse", "pipewire-0", "gnupg", "keyring", "gvfs", "doc",
        "at-spi", "dconf", "p11-kit", "credentials", "user-tmpfiles.d",
};

bool target_is_special(const char *name, bool user_scope) {
        for (size_t i = 0; i < ELEMENTSOF(special_targets); i++)
                if (streq(name, special_targets[i]))
                        return true;
        for (size_t i = 0; user_scope && i < ELEMENTSOF(special_user_targets); i++)
                if (streq(name, special_user_targets[i]))
                        return true;
        return false;
}

int app_name_check(const char *name, bool user_scope, const SystemClaims *claims, char **ret_why) {
        size_t len = strlen(name);
        int r;

        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++) {
                size_t sl = strlen(unit_suffixes[i]);
                if (len > sl && streq(name + len - sl, unit_suffixes[i])) {
                        r = asprintf(ret_why, "the app name '%s' ends in '%s', a unit type: its units would read as "
                                     "'%s.target' and '%s@.service'; drop the suffix from the file name",
                                     name, unit_suffixes[i], name, name);
                        return r < 0 ? -ENOMEM : -EINVAL;
                }
        }
        if (target_is_special(name, user_scope)) {
                r = asprintf(ret_why, "the app name '%s' would generate %s.target, which is systemd's own special "
                             "unit (systemd.special(7)); rename the file", name, name);
                return r < 0 ? -ENOMEM : -EEXIST;
        }
        if (strncmp(name, "systemd-", 8) == 0) {
                r = asprintf(ret_why, "the app name '%s' starts with 'systemd-', which names systemd's own units; "
                             "rename the file", name);
                return r < 0 ? -ENOMEM : -EEXIST;
        }
        if (streq(name, "sockd")) {
                r = asprintf(ret_why, "the app name 'sockd' is sockd's own (sockd.slice, /run/sockd); rename the file");
                return r < 0 ? -ENOMEM : -EEXIST;
        }

        const char *const suffixes[] = { ".target", "@*.service", "@*.socket" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *pattern = NULL;
                const Claim *hit;

                if (asprintf(&pattern, "%s%s", name, suffixes[i]) < 0)
                        return -ENOMEM;
                hit = system_claims_find_unit(claims, pattern);
                if (hit) {
                        r = asprintf(ret_why, "the app's units would shadow the existing unit %s (%s): the "
                                     "generator's units outrank /usr/lib/systemd and are outranked by /etc; "
                                     "rename the file", hit->what, hit->source);
                        return r < 0 ? -ENOMEM : -EEXIST;
                }
        }
        return 0;
}

/* @rel (relative to the base) is, or is below or above, the reserved @reserved. */
static bool components_overlap(const char *rel, const char *reserved) {
        size_t n = strlen(reserved);

        /* reserved names are one component */
        return strncmp(rel, reserved, n) == 0 && (rel[n] == 0 || rel[n] == '/');
}

int socket_directory_check(const char *dir, bool user_scope, const SystemClaims *claims, char **ret_why) {
        _cleanup_free_ char *base = user_scope ? user_runtime_dir() : strdup("/run");
        const char *rel;
        const Claim *hit;
        size_t n;
        int r;

        if (!base)
                return -ENOMEM;
        n = strlen(base);
        if (strncmp(dir, base, n) != 0 || dir[n] != '/' || dir[n + 1] == 0) {
                r = asprintf(ret_why, "'%s' is not a directory of the app's own below %s (e.g. %s/APP); sockd sets "
                             "its owner and mode, so it must be the app's alone", dir, base, base);
                return r < 0 ? -ENOMEM : -EINVAL;
        }
        rel = dir + n + 1;

        const char *const *reserved = user_scope ? reserved_user_dirs : reserved_system_dirs;
        size_t n_reserved = user_scope ? ELEMENTSOF(reserved_user_dirs) : ELEMENTSOF(reserved_system_dirs);
        for (size_t i = 0; i < n_reserved; i++)
                if (components_overlap(rel, reserved[i])) {
                        r = asprintf(ret_why, "'%s' %s %s/%s, which belongs to %s; sockd sets the owner and mode of "
                                     "the socket directory, so give the app one of its own (e.g. %s/APP)", dir,
                                     strlen(rel) == strlen(reserved[i]) ? "is" : "is inside", base, reserved[i],
                                     user_scope ? "the user's session" : "systemd or the base system", base);
                        return r < 0 ? -ENOMEM : -EINVAL;
                }

        hit = system_claims_find_dir(claims, dir);
        if (hit) {
                r = asprintf(ret_why, "'%s' belongs to someone else: %s names '%s'; sockd sets the owner and mode of "
                             "the socket directory, so give the app one of its own (e.g. %s/APP)", dir, hit->source,
                             hit->what, base);
                return r < 0 ? -ENOMEM : -EINVAL;
        }
        return 0;
}
