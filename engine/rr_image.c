/*
 * rr_image.c - compiled table files (rr_image.h): writing a frozen table,
 * and mapping one back after checking every byte of it.
 *
 * Layout (little-endian as the records are, 8-byte aligned sections):
 *
 *   header, 64 bytes:
 *     0  "R307TBL\0"          8  u32 version       12  u32 0x01020304
 *    16  u64 image size      24  u64 source size   32  i64 source mtime
 *    40  u64 source inode    48  u64 checksum of bytes [64, size)
 *    56  u32 options         60  u32 sections
 *   section table, 24 bytes each: u32 id | u32 count | u64 offset | u64 len
 *   sections, each at an 8-byte boundary, zero padding between.
 *
 * A reader requires each known section exactly once and rejects an
 * unknown one: a new table array is one more section id with
 * IMAGE_VERSION raised.
 *
 * Pattern rules need no section of their own: the table's shape list is
 * derived from its pattern records, so it is built again from them once
 * they are validated (what freezing does), and cannot disagree with them.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "apr_file_io.h"
#include "apr_mmap.h"
#include "apr_strings.h"

#include "rr_internal.h"
#include "rr_image.h"

#define IMAGE_MAGIC     "R307TBL"
#define IMAGE_VERSION   2u      /* 2: pattern records */
#define IMAGE_ENDIAN    0x01020304u
#define SECTION_SIZE    24u

enum {
    SEC_META = 1,       /* u32 cap | u32 record format */
    SEC_ARENA,          /* the records */
    SEC_OFFS,           /* u32 per record */
    SEC_SLOTS,          /* u64 per slot */
    SEC_RANGES,         /* u32 first_off | u32 file, per range */
    SEC_FILES,          /* NUL-terminated names */
    SEC_GROUPS,         /* u64 seeds, ascending */
    SEC_SPELL_RECS,     /* u32 record offsets, ascending */
    SEC_SPELL_TEXT,     /* NUL-terminated spellings, in the same order */
    SEC_SOURCE,         /* the rules file's path, NUL-terminated */
    SEC_COUNT
};

/* The record layout of rr_internal.h; a change there raises it.  2: the
 * SRC_PATTERN flag (a pattern rule's stored source); 3: targets sharing
 * their source's tail (TGT_SHARED). */
#define RECORD_FORMAT   3u

/* ---- checksum ------------------------------------------------------- */

/* Eight independent lanes over 64-byte blocks: the multiplies overlap, so
 * a big image is summed at memory speed rather than one multiply's
 * latency per word. */
typedef struct {
    uint64_t lane[8];
    unsigned char buf[64];
    size_t buffered;
    uint64_t total;
} image_sum;

static void sum_init(image_sum *s)
{
    int k;
    for (k = 0; k < 8; k++)
        s->lane[k] = HASH_SEED + (uint64_t)k * HASH_K2;
    s->buffered = 0;
    s->total = 0;
}

static void sum_block(uint64_t *lane, const unsigned char *p)
{
    int k;
    for (k = 0; k < 8; k++) {
        uint64_t h = (lane[k] ^ load64le(p + 8 * k)) * HASH_K1;
        lane[k] = h ^ (h >> 29);
    }
}

static void sum_update(image_sum *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->total += n;
    if (s->buffered) {
        size_t take = 64 - s->buffered < n ? 64 - s->buffered : n;
        memcpy(s->buf + s->buffered, p, take);
        s->buffered += take;
        p += take;
        n -= take;
        if (s->buffered < 64)
            return;
        sum_block(s->lane, s->buf);
        s->buffered = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        sum_block(s->lane, p);
    memcpy(s->buf, p, n);
    s->buffered = n;
}

static uint64_t sum_final(image_sum *s)
{
    uint64_t h;
    int k;
    memset(s->buf + s->buffered, 0, 64 - s->buffered);
    sum_block(s->lane, s->buf);
    h = s->total;
    for (k = 0; k < 8; k++)
        h = fmix64(h ^ s->lane[k]);
    return h;
}

uint64_t rr_image_checksum(const char *buf, size_t len)
{
    image_sum s;
    sum_init(&s);
    if (len > RR_IMAGE_HEADER)
        sum_update(&s, buf + RR_IMAGE_HEADER, len - RR_IMAGE_HEADER);
    return sum_final(&s);
}

void rr_image_origin_init(rr_image_origin *o, const char *source,
                          const apr_finfo_t *fi, const rr_options *opt)
{
    o->source = source;
    o->size = fi->size;
    o->mtime = fi->mtime;
    o->inode = fi->inode;
    o->opt = *opt;
}

static uint32_t opt_bits(const rr_options *opt)
{
    return (opt->case_insensitive ? 1u : 0u) | (opt->trailing_strict ? 2u : 0u);
}

/* ---- writing -------------------------------------------------------- */

typedef struct {
    uint32_t id, count;
    const void *data;
    uint64_t len;
    const char *const *strings;     /* else strings, each with its NUL */
    uint32_t nstrings;
} out_section;

typedef struct {
    apr_file_t *f;
    image_sum sum;
    uint64_t at;
    apr_status_t rv;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->rv != APR_SUCCESS || n == 0)
        return;
    w->rv = apr_file_write_full(w->f, p, n, NULL);
    sum_update(&w->sum, p, n);
    w->at += n;
}

static void pad8(writer *w)
{
    static const char zeros[8];
    if (w->at % 8)
        put(w, zeros, 8 - w->at % 8);
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

static uint64_t strings_len(const char *const *s, uint32_t n)
{
    uint64_t len = 0;
    uint32_t k;
    for (k = 0; k < n; k++)
        len += strlen(s[k]) + 1;
    return len;
}

apr_status_t rr_image_write(const rr_table *t, const rr_image_origin *o,
                            const char *path, apr_pool_t *tmp)
{
    out_section sec[SEC_COUNT - 1];
    unsigned char head[RR_IMAGE_HEADER], meta[8];
    uint32_t *ranges, *spell_recs, k;
    const char **spell_text;
    const char *src_only[1];
    char *tmpname;
    uint64_t at;
    writer w;
    int n = 0, i;

    ranges = apr_palloc(tmp, sizeof(uint32_t) * 2 * (t->nranges + 1));
    for (k = 0; k < t->nranges; k++) {
        ranges[2 * k] = t->ranges[k].first_off;
        ranges[2 * k + 1] = t->ranges[k].file;
    }
    spell_recs = apr_palloc(tmp, sizeof(uint32_t) * (t->nspellings + 1));
    spell_text = apr_palloc(tmp, sizeof(char *) * (t->nspellings + 1));
    for (k = 0; k < t->nspellings; k++) {
        spell_recs[k] = t->spellings[k].rec;
        spell_text[k] = t->spellings[k].text;
    }
    put32(meta, t->cap);
    put32(meta + 4, RECORD_FORMAT);
    src_only[0] = o->source;
#define SEC(ID, CNT, DATA, LEN) \
    (sec[n].id = (ID), sec[n].count = (CNT), sec[n].data = (DATA), \
     sec[n].len = (LEN), sec[n].strings = NULL, n++)
#define SEC_STR(ID, S, CNT) \
    (sec[n].id = (ID), sec[n].count = (CNT), sec[n].data = NULL, \
     sec[n].strings = (S), sec[n].nstrings = (CNT), \
     sec[n].len = strings_len((S), (CNT)), n++)
    SEC(SEC_META, 1, meta, sizeof(meta));
    SEC(SEC_ARENA, 0, t->arena, t->arena_len);
    SEC(SEC_OFFS, t->nrec, t->offs, sizeof(uint32_t) * (uint64_t)t->nrec);
    SEC(SEC_SLOTS, t->cap ? t->stats.slots : 0, t->slots,
        t->cap ? sizeof(uint64_t) * (uint64_t)t->stats.slots : 0);
    SEC(SEC_RANGES, t->nranges, ranges, sizeof(uint32_t) * 2 * t->nranges);
    SEC_STR(SEC_FILES, t->files, t->nfiles);
    SEC(SEC_GROUPS, t->ngroups, t->groups, sizeof(uint64_t) * t->ngroups);
    SEC(SEC_SPELL_RECS, t->nspellings, spell_recs,
        sizeof(uint32_t) * t->nspellings);
    SEC_STR(SEC_SPELL_TEXT, spell_text, t->nspellings);
    SEC_STR(SEC_SOURCE, src_only, 1);
#undef SEC
#undef SEC_STR

    tmpname = apr_psprintf(tmp, "%s.XXXXXX", path);
    memset(&w, 0, sizeof(w));
    w.rv = apr_file_mktemp(&w.f, tmpname, APR_FOPEN_CREATE | APR_FOPEN_READ
                           | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                           | APR_FOPEN_BINARY, tmp);
    if (w.rv != APR_SUCCESS)
        return w.rv;
    /* the rules may not be for everyone's eyes; httpd's children inherit
     * the mapping, they never open the file */
    apr_file_perms_set(tmpname, APR_FPROT_UREAD | APR_FPROT_UWRITE);
    sum_init(&w.sum);
    memset(head, 0, sizeof(head));
    if ((w.rv = apr_file_write_full(w.f, head, sizeof(head), NULL)))
        goto fail;
    w.at = RR_IMAGE_HEADER;
    /* the section table, then the sections at the offsets it names */
    at = RR_IMAGE_HEADER + (uint64_t)SECTION_SIZE * n;
    for (i = 0; i < n; i++) {
        unsigned char e[SECTION_SIZE];
        at = (at + 7) & ~(uint64_t)7;
        put32(e, sec[i].id);
        put32(e + 4, sec[i].count);
        put64(e + 8, at);
        put64(e + 16, sec[i].len);
        put(&w, e, sizeof(e));
        at += sec[i].len;
    }
    for (i = 0; i < n; i++) {
        pad8(&w);
        if (!sec[i].strings) {
            put(&w, sec[i].data, sec[i].len);
        }
        else {
            char *all = apr_palloc(tmp, sec[i].len + 1), *o = all;
            for (k = 0; k < sec[i].nstrings; k++) {
                size_t sl = strlen(sec[i].strings[k]) + 1;
                memcpy(o, sec[i].strings[k], sl);
                o += sl;
            }
            put(&w, all, sec[i].len);
        }
    }
    pad8(&w);
    if (w.rv != APR_SUCCESS)
        goto fail;
    memcpy(head, IMAGE_MAGIC, 8);
    put32(head + 8, IMAGE_VERSION);
    put32(head + 12, IMAGE_ENDIAN);
    put64(head + 16, w.at);
    put64(head + 24, (uint64_t)o->size);
    put64(head + 32, (uint64_t)o->mtime);
    put64(head + 40, (uint64_t)o->inode);
    put64(head + RR_IMAGE_SUM_AT, sum_final(&w.sum));
    put32(head + 56, opt_bits(&o->opt));
    put32(head + 60, (uint32_t)n);
    {
        apr_off_t zero = 0;
        if ((w.rv = apr_file_seek(w.f, APR_SET, &zero))
            || (w.rv = apr_file_write_full(w.f, head, sizeof(head), NULL)))
            goto fail;
    }
    if ((w.rv = apr_file_close(w.f)) != APR_SUCCESS) {
        apr_file_remove(tmpname, tmp);
        return w.rv;
    }
    w.rv = apr_file_rename(tmpname, path, tmp);
    if (w.rv != APR_SUCCESS)
        apr_file_remove(tmpname, tmp);
    return w.rv;
fail:
    apr_file_close(w.f);
    apr_file_remove(tmpname, tmp);
    return w.rv;
}

/* ---- reading -------------------------------------------------------- */

typedef struct {
    uint32_t count;
    const char *p;
    uint64_t len;
} in_section;

#define REJECT(msg) do { *why = (msg); return NULL; } while (0)

/* Decodes the record at off if all of it lies inside the arena and its
 * target can be joined. */
static int rec_checked(const char *arena, size_t len, uint32_t off,
                       rr_rec *r)
{
    size_t need;
    unsigned bits, xbits, srcw, tgtw;
    if (off < 1 || (size_t)off + REC_FIXED > len)
        return 0;
    bits = (unsigned char)arena[off + 4];
    xbits = (unsigned char)arena[off + 5];
    srcw = rd16(arena + off + 6);
    tgtw = rd16(arena + off + 8);
    need = REC_FIXED + ((bits & RB_KIND_MASK) == RR_KIND_QUERY ? 2 : 0)
           + ((xbits & XB_HOST) ? 1 : 0) + ((tgtw & TGT_SHARED) ? 1 : 0)
           + ((srcw & SRC_WINDOW) ? 8 : 0);
    if ((size_t)off + need > len)
        return 0;
    rec_decode_head(arena, off, r);
    /* the parser never writes a count below TGT_SHARE_MIN (0 included) */
    if ((size_t)off + rec_size(r) > len || !rec_share_sane(r)
        || ((tgtw & TGT_SHARED) && r->tgt_shared < TGT_SHARE_MIN))
        return 0;
    rec_join_target(r);
    return 1;
}

/* What the parser guarantees of every record and the lookup and check
 * code rely on: an image must not be able to say otherwise. */
static int record_sane(const rr_rec *r)
{
    unsigned kind = r->bits & RB_KIND_MASK;
    size_t mainlen;
    if (kind > RR_KIND_QUERY || r->status >= RR_STATUS_COUNT
        || r->h_len > RR_MAX_HOST || r->src_len > RR_MAX_LINE
        || (r->h_len != 0) != ((r->xbits & XB_HOST) != 0)
        || ((r->xbits & (XB_WILD | XB_HTTP | XB_HTTPS))
            && !(r->xbits & XB_HOST))
        || ((r->xbits & XB_HTTP) && (r->xbits & XB_HTTPS)))
        return 0;
    if (kind != RR_KIND_QUERY && r->q_len != 0)
        return 0;
    /* a 410 has no target; any other has a path or an absolute URL */
    if ((r->status == RR_STATUS_410) != (r->tgt_len == 0))
        return 0;
    if (r->tgt_len && r->target[0] != '/'
        && !find_bytes(r->target, r->tgt_len, "://"))
        return 0;
    if (!(r->bits & RB_STAR))
        return 1;
    mainlen = target_main_len(r->target, r->tgt_len);  /* a byte scan */
    if (kind != RR_KIND_PREFIX || mainlen == 0
        || r->target[mainlen - 1] != '*')
        return 0;
    return 1;
}

/* What rr_pattern.c relies on in a pattern record, as the parser makes
 * it (rr_pattern_encode, make_pattern_key): a source starting with '/',
 * each segment holding no mark or one pair of them around a name of 1 to
 * RR_MAX_PLACEHOLDER_NAME name bytes, 1 to RR_MAX_PLACEHOLDERS distinct
 * names, literal bytes decoded (no control byte), folded under nocase,
 * no '.' or '..' segment, at most RR_MAX_PATTERN_SEGMENTS segments; a
 * target naming only its placeholders, none in its host.  An unpaired
 * mark would send the segment scanners past the record. */
static int pattern_sane(const rr_rec *r, apr_pool_t *p)
{
    const char *s = r->src, *names[RR_MAX_PLACEHOLDERS];
    size_t n = r->src_len, i = 1, nlens[RR_MAX_PLACEHOLDERS];
    char skel[RR_MAX_LINE + 2];
    int count = 0, nocase = (r->bits & RB_NOCASE) != 0, j;
    rr_shape sh;
    if ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY || n == 0 || s[0] != '/')
        return 0;
    for (;;) {
        size_t start = i, marks = 0;
        for (; i < n && s[i] != '/'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == (unsigned char)PH_MARK) {
                size_t k = i + 1;
                if (++marks > 1 || count == RR_MAX_PLACEHOLDERS)
                    return 0;
                while (k < n && s[k] != PH_MARK && s[k] != '/')
                    k++;
                if (k == n || s[k] != PH_MARK || k == i + 1
                    || k - i - 1 > RR_MAX_PLACEHOLDER_NAME)
                    return 0;
                for (j = 0; j < count; j++) {
                    if (nlens[j] == k - i - 1
                        && memcmp(names[j], s + i + 1, nlens[j]) == 0)
                        return 0;
                }
                names[count] = s + i + 1;
                nlens[count++] = k - i - 1;
                while (++i < k) {
                    c = (unsigned char)s[i];
                    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                          || (c >= '0' && c <= '9') || c == '_'))
                        return 0;
                }
                continue;
            }
            if (c < 0x20 || c == 0x7f || (nocase && fold(c) != c))
                return 0;
        }
        if (!marks && ((i - start == 1 && s[start] == '.')
                       || (i - start == 2 && s[start] == '.'
                           && s[start + 1] == '.')))
            return 0;
        if (i >= n)
            break;
        i++;
    }
    if (count == 0
        || rr_pattern_shape(s, n, (r->bits & RB_KIND_MASK) == RR_KIND_PREFIX,
                            &sh, skel, &i))
        return 0;
    return r->tgt_len == 0
           || !rr_pattern_check_target(p, s, n, r->target, r->tgt_len);
}

static int strings_ok(const in_section *s, const char **out)
{
    const char *p = s->p, *end = s->p + s->len;
    uint32_t k;
    for (k = 0; k < s->count; k++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            return 0;
        if (out)
            out[k] = p;
        p = nul + 1;
    }
    return p == end;
}

rr_table *rr_image_read(apr_pool_t *pool, const char *buf, size_t len,
                        const rr_image_origin *o, const char **why)
{
    in_section sec[SEC_COUNT];
    const unsigned char *h = (const unsigned char *)buf;
    uint32_t version, endian, nsec, optbits, k, i;
    uint64_t size, sum, live_sum = 0, live_xor = 0, slot_sum = 0,
             slot_xor = 0, slots_used = 0;
    rr_table *t;
    const char **spell_text;
    rr_spelling *sp;
    rr_range *rg;

    if (len < RR_IMAGE_HEADER || memcmp(buf, IMAGE_MAGIC, 8) != 0)
        REJECT(len < RR_IMAGE_HEADER ? "truncated" : "not an image");
    memcpy(&version, h + 8, 4);
    memcpy(&endian, h + 12, 4);
    memcpy(&size, h + 16, 8);
    memcpy(&sum, h + RR_IMAGE_SUM_AT, 8);
    memcpy(&optbits, h + 56, 4);
    memcpy(&nsec, h + 60, 4);
    if (version != IMAGE_VERSION || endian != IMAGE_ENDIAN)
        REJECT("another version or byte order");
    if (size != len)
        REJECT(size > len ? "truncated" : "trailing bytes");
    if (rr_image_checksum(buf, len) != sum)
        REJECT("checksum mismatch");
    if (o) {
        uint64_t v;
        memcpy(&v, h + 24, 8);
        if (v != (uint64_t)o->size)
            REJECT("stale (rules file size differs)");
        memcpy(&v, h + 32, 8);
        if (v != (uint64_t)o->mtime)
            REJECT("stale (rules file modified)");
        memcpy(&v, h + 40, 8);
        if (v != (uint64_t)o->inode)
            REJECT("stale (another rules file)");
        if (optbits != opt_bits(&o->opt))
            REJECT("compiled with other matching options");
    }
    if (optbits > 3)
        REJECT("unknown options");

    memset(sec, 0, sizeof(sec));
    if (nsec != SEC_COUNT - 1
        || RR_IMAGE_HEADER + (uint64_t)SECTION_SIZE * nsec > len)
        REJECT("bad section table");
    for (i = 0; i < nsec; i++) {
        const unsigned char *e = h + RR_IMAGE_HEADER + SECTION_SIZE * i;
        uint32_t id, count;
        uint64_t off, slen;
        memcpy(&id, e, 4);
        memcpy(&count, e + 4, 4);
        memcpy(&off, e + 8, 8);
        memcpy(&slen, e + 16, 8);
        if (id < 1 || id >= SEC_COUNT || sec[id].p)
            REJECT("unknown or repeated section");
        if (off % 8 || off > len || slen > len - off)
            REJECT("section outside the image");
        sec[id].count = count;
        sec[id].p = buf + off;
        sec[id].len = slen;
    }
    if (sec[SEC_META].len != 8 || rd32(sec[SEC_META].p + 4) != RECORD_FORMAT)
        REJECT("another record format");
    if (sec[SEC_OFFS].len != 4 * (uint64_t)sec[SEC_OFFS].count
        || sec[SEC_SLOTS].len != 8 * (uint64_t)sec[SEC_SLOTS].count
        || sec[SEC_RANGES].len != 8 * (uint64_t)sec[SEC_RANGES].count
        || sec[SEC_GROUPS].len != 8 * (uint64_t)sec[SEC_GROUPS].count
        || sec[SEC_SPELL_RECS].len != 4 * (uint64_t)sec[SEC_SPELL_RECS].count
        || sec[SEC_SPELL_TEXT].count != sec[SEC_SPELL_RECS].count
        || sec[SEC_SOURCE].count != 1
        || sec[SEC_FILES].count > sec[SEC_FILES].len     /* a NUL each */
        || sec[SEC_SPELL_TEXT].count > sec[SEC_SPELL_TEXT].len
        || sec[SEC_ARENA].len < 1 || sec[SEC_ARENA].len > UINT32_MAX
        || sec[SEC_ARENA].p[0] != 0)
        REJECT("inconsistent section sizes");

    t = apr_pcalloc(pool, sizeof(*t));
    t->opt.case_insensitive = (optbits & 1) != 0;
    t->opt.trailing_strict = (optbits & 2) != 0;
    t->arena = sec[SEC_ARENA].p;
    t->arena_len = sec[SEC_ARENA].len;
    t->offs = (const uint32_t *)(const void *)sec[SEC_OFFS].p;
    t->nrec = sec[SEC_OFFS].count;
    t->slots = (const uint64_t *)(const void *)sec[SEC_SLOTS].p;
    t->cap = rd32(sec[SEC_META].p);
    t->groups = (const uint64_t *)(const void *)sec[SEC_GROUPS].p;
    t->ngroups = sec[SEC_GROUPS].count;
    {
        const char *src[1];
        if (!strings_ok(&sec[SEC_SOURCE], src)
            || (o && strcmp(src[0], o->source) != 0))
            REJECT("compiled from another rules file");
    }

    /* Records: contiguous from offset 1, each whole inside the arena;
     * the figures a frozen table carries are counted again, not read. */
    {
        uint32_t expect = 1;
        for (k = 0; k < t->nrec; k++) {
            uint32_t off = t->offs[k];
            rr_rec r;
            if (off != expect || !rec_checked(t->arena, t->arena_len, off, &r))
                REJECT("bad record");
            if (!record_sane(&r) || (r.pattern && !pattern_sane(&r, pool)))
                REJECT("bad record");
            expect = off + (uint32_t)rec_size(&r);
            if (r.bits & RB_SHADOWED)
                continue;
            rr_stats_count(t, &r);
            /* as the builder: a pattern's depth is in its shape */
            if ((r.bits & RB_KIND_MASK) == RR_KIND_PREFIX && !r.pattern) {
                uint32_t depth = (uint32_t)path_depth(r.src, r.src_len);
                if (depth > RR_MAX_PREFIX_DEPTH)
                    REJECT("bad record");
                if (depth > t->max_prefix_depth)
                    t->max_prefix_depth = depth;
            }
            live_sum += fmix64(off);
            live_xor ^= fmix64(off + HASH_K2);
        }
        if (expect != t->arena_len && !(t->nrec == 0 && t->arena_len == 1))
            REJECT("bad record");
    }
    t->nrules = t->stats.rules;

    /* Slots: every probe starts below cap and ends at an empty slot (the
     * last one is), and the slots hold each live record exactly once
     * (same count, same sum and xor of mixed offsets). */
    t->stats.slots = sec[SEC_SLOTS].count;
    if (t->nrec && (t->cap == 0 || t->stats.slots < (uint64_t)t->cap + 1
                    || t->slots[t->stats.slots - 1] != 0))
        REJECT("bad slots");
    if (!t->nrec && (t->cap != 0 || t->stats.slots != 0))
        REJECT("bad slots");
    for (k = 0; k < t->stats.slots; k++) {
        uint32_t off = (uint32_t)t->slots[k];
        if (!off)
            continue;
        if (off >= t->arena_len)
            REJECT("bad slots");
        slots_used++;
        slot_sum += fmix64(off);
        slot_xor ^= fmix64(off + HASH_K2);
    }
    if (slots_used != t->nrules || slot_sum != live_sum
        || slot_xor != live_xor)
        REJECT("bad slots");

    for (k = 1; k < t->ngroups; k++) {
        if (t->groups[k - 1] >= t->groups[k])
            REJECT("bad host groups");
    }
    if ((t->stats.host == 0) != (t->ngroups == 0))
        REJECT("bad host groups");

    t->nfiles = sec[SEC_FILES].count;
    t->files = apr_palloc(pool, sizeof(char *) * (t->nfiles + 1));
    if (!strings_ok(&sec[SEC_FILES], (const char **)t->files))
        REJECT("bad file names");
    t->nranges = sec[SEC_RANGES].count;
    rg = apr_palloc(pool, sizeof(*rg) * (t->nranges + 1));
    for (k = 0; k < t->nranges; k++) {
        rg[k].first_off = rd32(sec[SEC_RANGES].p + 8 * k);
        rg[k].file = rd32(sec[SEC_RANGES].p + 8 * k + 4);
        if (rg[k].file >= t->nfiles
            || (k > 0 && rg[k].first_off < rg[k - 1].first_off))
            REJECT("bad file ranges");
    }
    if (t->nrec && !t->nranges)
        REJECT("bad file ranges");
    t->ranges = rg;

    t->nspellings = sec[SEC_SPELL_RECS].count;
    spell_text = apr_palloc(pool, sizeof(char *) * (t->nspellings + 1));
    if (!strings_ok(&sec[SEC_SPELL_TEXT], spell_text))
        REJECT("bad spellings");
    sp = apr_palloc(pool, sizeof(*sp) * (t->nspellings + 1));
    for (k = 0; k < t->nspellings; k++) {
        sp[k].rec = rd32(sec[SEC_SPELL_RECS].p + 4 * k);
        sp[k].text = spell_text[k];
        if (sp[k].rec == 0 || sp[k].rec >= t->arena_len
            || (k > 0 && sp[k].rec <= sp[k - 1].rec))
            REJECT("bad spellings");
    }
    t->spellings = sp;
    /* the pattern records are valid: their shapes, as freezing finds them */
    if (!rr_table_collect_shapes(t, pool))
        REJECT("out of memory");
    t->stats.bytes = sizeof(*t) + len
                     + (sizeof(rr_shape) + sizeof(rr_shape *)) * t->nshapes;
    t->image_sum = sum ? sum : 1;
    return t;
}

rr_table *rr_image_load(apr_pool_t *pool, const char *path,
                        const rr_image_origin *o, const char **why)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_mmap_t *mm;
    rr_table *t;

    if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_OS_DEFAULT, pool) != APR_SUCCESS) {
        *why = "missing";
        return NULL;
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f)
        != APR_SUCCESS || fi.filetype != APR_REG || fi.size <= 0) {
        apr_file_close(f);
        *why = "truncated";
        return NULL;
    }
    /* Read-only and shared: every process using the table maps the same
     * page-cache pages.  The mapping lives as long as the pool. */
    if (apr_mmap_create(&mm, f, 0, (apr_size_t)fi.size, APR_MMAP_READ, pool)
        != APR_SUCCESS) {
        apr_file_close(f);
        *why = "cannot map";
        return NULL;
    }
    apr_file_close(f);
    t = rr_image_read(pool, mm->mm, mm->size, o, why);
    if (!t) {
        apr_mmap_delete(mm);
        return NULL;
    }
#if defined(MADV_DONTNEED)
    /* Validation touched every page; drop them from this process's page
     * tables (they stay in the page cache): a process then counts only
     * the pages its lookups use. */
    madvise(mm->mm, mm->size, MADV_DONTNEED);
#endif
    return t;
}

uint64_t rr_image_sum_of(const rr_table *t)
{
    return t->image_sum;
}

int rr_table_has_windows(const rr_table *t)
{
    return t->has_windows;
}
