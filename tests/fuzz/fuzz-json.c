/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json_canonicalize() on arbitrary bytes, as an app's IPC line or a ReadyMessage= value.
 * Besides memory errors: a result is itself canonical (canonicalizing it again gives the
 * same text), holds no raw control character, and is refused with the documented codes
 * only; json_object_member() on it finds a member that is itself canonical JSON, or says
 * why not. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *out = NULL, *again = NULL;
        int r = json_canonicalize((const char *) data, size, &out);

        fuzz_check(r == 0 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
        if (r < 0) {
                fuzz_check(!out);
                return 0;
        }
        for (const char *p = out; *p; p++)
                fuzz_check((unsigned char) *p >= 0x20);
        r = json_canonicalize(out, strlen(out), &again);
        fuzz_check(r == 0 || r == -ENOMEM);
        if (r == 0)
                fuzz_check(streq(again, out));

        _cleanup_free_ char *member = NULL, *member_again = NULL;
        r = json_object_member(out, "type", &member);
        fuzz_check(r == 0 || r == -ENOENT || r == -EBADMSG || r == -ENOMEM);
        fuzz_check(r != -EBADMSG || out[0] != '{');
        if (r == 0) {
                r = json_canonicalize(member, strlen(member), &member_again);
                fuzz_check(r == 0 || r == -ENOMEM);
                if (r == 0)
                        fuzz_check(streq(member_again, member));
        }
        return 0;
}
