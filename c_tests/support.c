/*
 * support.c: policies under test, the rules of their allocators, maps, snapshots, the
 * invariant check, and the model that every call can be checked against (see support.h).
 */

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ctest_policy ctest_policies[] = {
    {MA_POLICY_FIRST_FIT, "first-fit", 1, 1},
    {MA_POLICY_BEST_FIT, "best-fit", 1, 1},
    {MA_POLICY_TLSF, "tlsf", 1, 1},
    {MA_POLICY_BUDDY, "buddy", 0, 0},
};
const size_t ctest_policy_count = sizeof ctest_policies / sizeof ctest_policies[0];

int ctest_is_fit(const ctest_policy *p) {
    return p->policy == MA_POLICY_FIRST_FIT || p->policy == MA_POLICY_BEST_FIT;
}

/* ---- The rules of the allocators made by ctest_create --------------------------------

   The suites create and check allocators from one thread at a time (the thread suite's
   workers only call ma_ functions), so a plain table is enough. */

#define MAX_HANDLES 256

static struct {
    const ma_allocator *a;
    ctest_rule rule;
} handles[MAX_HANDLES];

static void remember(const ma_allocator *a, const ctest_rule *r) {
    size_t empty = MAX_HANDLES;
    for (size_t i = 0; i < MAX_HANDLES; i++) {
        if (handles[i].a == a) { /* the address of a destroyed handle, reused */
            handles[i].rule = *r;
            return;
        }
        if (!handles[i].a && empty == MAX_HANDLES) empty = i;
    }
    if (empty == MAX_HANDLES) {
        ctest_record(0, __FILE__, __LINE__, "fewer than MAX_HANDLES live allocators", NULL);
        return;
    }
    handles[empty].a = a;
    handles[empty].rule = *r;
}

static void forget(const ma_allocator *a) {
    for (size_t i = 0; i < MAX_HANDLES; i++) {
        if (handles[i].a == a) handles[i].a = NULL;
    }
}

ctest_rule ctest_rule_of(const ma_allocator *a) {
    ma_stats st;
    memset(&st, 0, sizeof st);
    ma_get_stats(a, &st);
    for (size_t i = 0; a && i < MAX_HANDLES; i++) {
        /* Another capacity: a stale entry, left by ma_destroy, whose address was reused. */
        if (handles[i].a == a && handles[i].rule.capacity == st.capacity) return handles[i].rule;
    }
    ctest_rule r = {MA_POLICY_FIRST_FIT, st.capacity, 1};
    return r;
}

ma_allocator *ctest_create(uint32_t policy, size_t capacity, size_t min_alignment) {
    ma_options opts;
    ma_allocator *a = NULL;
    ma_options_init(&opts);
    opts.capacity = capacity;
    opts.policy = policy;
    opts.min_alignment = min_alignment;
    ma_status s = ma_create_with(&opts, &a);
    char details[160];
    snprintf(details, sizeof details, "policy %u, capacity %zu, min_alignment %zu: %s", (unsigned)policy, capacity,
             min_alignment, ctest_status_name(s));
    ctest_record(s == MA_OK && a != NULL, __FILE__, __LINE__, "ma_create_with(&opts, &a) == MA_OK", details);
    if (s != MA_OK) return NULL;
    ctest_rule r = {policy, capacity, min_alignment};
    remember(a, &r);
    return a;
}

void ctest_adopt(const ma_allocator *a, uint32_t policy, size_t capacity, size_t min_alignment) {
    ctest_rule r = {policy, capacity, min_alignment};
    remember(a, &r);
}

void ctest_destroy(ma_allocator *a) {
    if (!a) return;
    forget(a);
    ma_destroy(a);
}

/* `value` rounded up to a multiple of `align` (a power of two); 0 on overflow. */
static int align_up(size_t value, size_t align, size_t *out) {
    if (value > SIZE_MAX - (align - 1)) return 0;
    *out = (value + align - 1) & ~(align - 1);
    return 1;
}

static int is_pow2(size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

/* The largest power of two that is at most `x` (x > 0). */
static size_t floor_pow2(size_t x) {
    size_t p = 1;
    while (p <= x / 2) p <<= 1;
    return p;
}

size_t ctest_footprint(const ctest_rule *r, size_t size) {
    size_t fp;
    if (size == 0 || !align_up(size, r->min_alignment, &fp)) return 0;
    if (r->policy == MA_POLICY_BUDDY) {
        if (fp > SIZE_MAX / 2 + 1) return 0;
        size_t p = 1;
        while (p < fp) p <<= 1;
        fp = p;
    }
    return fp;
}

/* The capacity rounded down to min_alignment: the rest can never be handed out. */
static size_t usable_of(const ctest_rule *r) {
    return r->capacity & ~(r->min_alignment - 1);
}

static int collect(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    ctest_map *m = ctx;
    if (m->len == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        ctest_extent *grown = realloc(m->extents, cap * sizeof *grown);
        if (!grown) {
            return 1; /* stop: the map is short and will not compare equal */
        }
        m->extents = grown;
        m->cap = cap;
    }
    m->extents[m->len].start = start;
    m->extents[m->len].size = size;
    m->extents[m->len].kind = (int)kind;
    m->len++;
    return 0;
}

ma_status ctest_map_take(const ma_allocator *a, ctest_map *m) {
    m->extents = NULL;
    m->len = 0;
    m->cap = 0;
    return ma_walk(a, collect, m);
}

void ctest_map_free(ctest_map *m) {
    free(m->extents);
    m->extents = NULL;
    m->len = 0;
    m->cap = 0;
}

static const char *kind_name(int kind) {
    switch (kind) {
    case MA_BLOCK_FREE: return "Free";
    case MA_BLOCK_ALLOCATED: return "Allocated";
    case MA_BLOCK_PADDING: return "Padding";
    default: return "Unknown";
    }
}

void ctest_print_extents(const ctest_extent *extents, size_t n) {
    const size_t shown = n > 64 ? 64 : n;
    for (size_t i = 0; i < shown; i++) {
        const ctest_extent *e = &extents[i];
        if (e->size == 0) {
            printf("%s[%s(%zu, size 0)]", i ? " " : "", kind_name(e->kind), e->start);
        } else {
            printf("%s[%s(%zu-%zu)]", i ? " " : "", kind_name(e->kind), e->start, e->start + (e->size - 1));
        }
    }
    if (shown < n) {
        printf(" ... (%zu extents)", n);
    }
}

static int extents_equal(const ctest_extent *x, size_t nx, const ctest_extent *y, size_t ny) {
    if (nx != ny) {
        return 0;
    }
    for (size_t i = 0; i < nx; i++) {
        if (x[i].start != y[i].start || x[i].size != y[i].size || x[i].kind != y[i].kind) {
            return 0;
        }
    }
    return 1;
}

int ctest_check_map(const ma_allocator *a, const ctest_extent *want, size_t n, const char *file, int line,
                    const char *expr) {
    ctest_map got;
    ma_status s = ctest_map_take(a, &got);
    int ok = s == MA_OK && extents_equal(got.extents, got.len, want, n);
    char what[256];
    snprintf(what, sizeof what, "map == %s", expr);
    if (!ctest_record(ok, file, line, what, s == MA_OK ? NULL : ctest_status_name(s))) {
        printf("    got:  ");
        ctest_print_extents(got.extents, got.len);
        printf("\n    want: ");
        ctest_print_extents(want, n);
        printf("\n");
    }
    ctest_map_free(&got);
    return ok;
}

void ctest_snapshot_take(const ma_allocator *a, ctest_snapshot *s) {
    memset(&s->stats, 0, sizeof s->stats);
    s->stats_status = ma_get_stats(a, &s->stats);
    ctest_map_take(a, &s->map);
}

void ctest_snapshot_free(ctest_snapshot *s) {
    ctest_map_free(&s->map);
}

static int stats_equal(const ma_stats *x, const ma_stats *y) {
    return x->capacity == y->capacity && x->allocated == y->allocated && x->free == y->free &&
           x->largest_free == y->largest_free && x->free_blocks == y->free_blocks &&
           x->allocations == y->allocations && x->padding == y->padding;
}

static void print_stats(const char *label, const ma_stats *s) {
    printf("    %s capacity %zu, allocated %zu, free %zu, largest_free %zu, free_blocks %zu, allocations %zu, "
           "padding %zu\n",
           label, s->capacity, s->allocated, s->free, s->largest_free, s->free_blocks, s->allocations, s->padding);
}

/* Records whether two snapshots have the same stats and map (`what` names the check);
   prints both when they differ. */
static int check_snapshots_equal(const ctest_snapshot *x, const ctest_snapshot *y, const char *labels[2],
                                 const char *file, int line, const char *what) {
    int same_stats = x->stats_status == MA_OK && y->stats_status == MA_OK && stats_equal(&x->stats, &y->stats);
    int same_map = extents_equal(x->map.extents, x->map.len, y->map.extents, y->map.len);
    if (!ctest_record(same_stats && same_map, file, line, what, same_stats ? "map differs" : "stats differ")) {
        char label[64];
        snprintf(label, sizeof label, "%s:", labels[0]);
        print_stats(label, &x->stats);
        snprintf(label, sizeof label, "%s:", labels[1]);
        print_stats(label, &y->stats);
        printf("    map %s: ", labels[0]);
        ctest_print_extents(x->map.extents, x->map.len);
        printf("\n    map %s: ", labels[1]);
        ctest_print_extents(y->map.extents, y->map.len);
        printf("\n");
    }
    return same_stats && same_map;
}

int ctest_check_unchanged(const ma_allocator *a, const ctest_snapshot *before, const char *file, int line,
                          const char *expr) {
    ctest_snapshot after;
    ctest_snapshot_take(a, &after);
    char what[256];
    snprintf(what, sizeof what, "state unchanged by %s", expr);
    const char *labels[2] = {"before", "after"};
    int ok = check_snapshots_equal(before, &after, labels, file, line, what);
    ctest_snapshot_free(&after);
    return ok;
}

int ctest_check_same(const ma_allocator *a, const ma_allocator *b, const char *file, int line, const char *expr) {
    ctest_snapshot x, y;
    ctest_snapshot_take(a, &x);
    ctest_snapshot_take(b, &y);
    char what[256];
    snprintf(what, sizeof what, "the same stats and map: %s", expr);
    const char *labels[2] = {"first", "second"};
    int ok = check_snapshots_equal(&x, &y, labels, file, line, what);
    ctest_snapshot_free(&x);
    ctest_snapshot_free(&y);
    return ok;
}

ma_status ctest_set_capacity(ma_allocator *a, size_t new_capacity) {
    const ctest_rule r = ctest_rule_of(a);
    ma_status s = ma_set_capacity(a, new_capacity);
    if (s == MA_OK) ctest_adopt(a, r.policy, new_capacity, r.min_alignment);
    return s;
}

int ctest_check_stats(const ma_allocator *a, const ma_stats *want, const char *file, int line) {
    ma_stats got;
    memset(&got, 0, sizeof got);
    ma_status s = ma_get_stats(a, &got);
    int ok = s == MA_OK && stats_equal(&got, want);
    if (!ctest_record(ok, file, line, "stats as expected", s == MA_OK ? NULL : ctest_status_name(s))) {
        print_stats("got: ", &got);
        print_stats("want:", want);
    }
    return ok;
}

/* Writes why an invariant does not hold, and reports it. */
#define VIOLATION(...)                                                                              \
    do {                                                                                            \
        snprintf(why, n, __VA_ARGS__);                                                              \
        return 1;                                                                                   \
    } while (0)

/* Whether the buddy block (start, size) and its buddy would merge into a block that lies
   inside one top-level block of a range of `usable` units. */
static int buddy_parent_inside_top(size_t usable, size_t start, size_t size) {
    if (size > SIZE_MAX / 2) return 0;
    size_t parent = start & ~size, parent_size = 2 * size, top = 0;
    for (size_t bit = SIZE_MAX / 2 + 1; bit; bit >>= 1) { /* top-level blocks, decreasing */
        if (!(usable & bit)) continue;
        if (parent >= top && parent - top < bit) return parent_size <= bit - (parent - top);
        top += bit;
    }
    return 0;
}

/* The first invariant that does not hold, written to `why`; 0 when all hold. */
static int find_violation(const ma_allocator *a, const ma_stats *st, const ctest_map *m, char *why, size_t n) {
    const ctest_rule r = ctest_rule_of(a);
    const size_t usable = usable_of(&r);
    const int buddy = r.policy == MA_POLICY_BUDDY;
    size_t at = 0, allocated = 0, free_units = 0, padding = 0, largest = 0, free_blocks = 0, allocations = 0;
    size_t owed = 0; /* the padding the previous allocation must be followed by */
    for (size_t i = 0; i < m->len; i++) {
        const ctest_extent *e = &m->extents[i];
        const ctest_extent *prev = i ? &m->extents[i - 1] : NULL;
        if (e->start != at) {
            VIOLATION("extent %zu starts at %zu, previous ends at %zu", i, e->start, at);
        }
        if (e->size == 0) {
            VIOLATION("extent %zu at %zu has size 0", i, e->start);
        }
        if (e->size > SIZE_MAX - e->start) {
            VIOLATION("extent %zu at %zu runs past SIZE_MAX", i, e->start);
        }
        if (owed && e->kind != MA_BLOCK_PADDING) {
            VIOLATION("the allocation before %zu lacks its %zu units of padding", e->start, owed);
        }
        switch (e->kind) {
        case MA_BLOCK_FREE:
            if (e->start % r.min_alignment != 0 || e->size % r.min_alignment != 0) {
                VIOLATION("free extent at %zu, size %zu, is off min_alignment %zu", e->start, e->size, r.min_alignment);
            }
            if (!buddy && prev && prev->kind == MA_BLOCK_FREE) {
                VIOLATION("adjacent free extents at %zu", e->start);
            }
            if (buddy && (!is_pow2(e->size) || e->start % e->size != 0)) {
                VIOLATION("buddy free extent at %zu, size %zu, is not a power of two aligned to its size", e->start,
                          e->size);
            }
            if (buddy && prev && prev->kind == MA_BLOCK_FREE && prev->size == e->size &&
                (prev->start ^ e->size) == e->start && buddy_parent_inside_top(usable, prev->start, e->size)) {
                VIOLATION("free buddies at %zu and %zu, size %zu, not merged", prev->start, e->start, e->size);
            }
            free_units += e->size;
            free_blocks++;
            largest = e->size > largest ? e->size : largest;
            break;
        case MA_BLOCK_ALLOCATED: {
            size_t size = CTEST_SENTINEL;
            ma_status s = ma_size_of(a, e->start, &size);
            if (s != MA_OK || size != e->size) {
                VIOLATION("ma_size_of(%zu) gives %s, size %zu; the map says %zu", e->start, ctest_status_name(s), size,
                          e->size);
            }
            const size_t fp = ctest_footprint(&r, e->size);
            if (e->start % r.min_alignment != 0 || (buddy && fp && e->start % fp != 0)) {
                VIOLATION("allocation at %zu is misaligned (footprint %zu, min_alignment %zu)", e->start, fp,
                          r.min_alignment);
            }
            owed = fp - e->size;
            allocated += e->size;
            allocations++;
            break;
        }
        case MA_BLOCK_PADDING:
            if (owed) {
                if (e->size != owed) {
                    VIOLATION("padding at %zu has %zu units, its allocation's footprint needs %zu", e->start, e->size,
                              owed);
                }
                owed = 0;
            } else if (e->start != usable || e->start + e->size != r.capacity) {
                /* The one padding without an allocation: the tail of a capacity that is
                   not a multiple of min_alignment, which no allocation can use. */
                VIOLATION("padding at %zu, size %zu, belongs to no allocation", e->start, e->size);
            }
            padding += e->size;
            break;
        default:
            VIOLATION("extent at %zu has unknown kind %d", e->start, e->kind);
        }
        at = e->start + e->size;
    }
    if (owed) {
        VIOLATION("the last allocation lacks its %zu units of padding", owed);
    }
    if (at != st->capacity) {
        VIOLATION("the map ends at %zu, capacity is %zu", at, st->capacity);
    }
    if (allocated != st->allocated || free_units != st->free || padding != st->padding) {
        VIOLATION("map sums (allocated %zu, free %zu, padding %zu) differ from stats", allocated, free_units, padding);
    }
    if (largest != st->largest_free || free_blocks != st->free_blocks || allocations != st->allocations) {
        VIOLATION("map (largest %zu, free blocks %zu, allocations %zu) differs from stats", largest, free_blocks,
                  allocations);
    }
    if (st->allocated > st->capacity || st->free > st->capacity - st->allocated ||
        st->capacity - st->allocated - st->free != st->padding) {
        VIOLATION("capacity != allocated + free + padding");
    }
    if (!buddy && r.min_alignment == 1 && st->padding != 0) {
        VIOLATION("padding %zu under an exact-size policy with min_alignment 1", st->padding);
    }
    return 0;
}

int ctest_check_invariants(const ma_allocator *a, const char *file, int line) {
    ctest_snapshot snap;
    ctest_snapshot_take(a, &snap);
    char why[256] = "";
    int bad = snap.stats_status != MA_OK;
    if (bad) {
        snprintf(why, sizeof why, "ma_get_stats: %s", ctest_status_name(snap.stats_status));
    } else {
        bad = find_violation(a, &snap.stats, &snap.map, why, sizeof why);
    }
    if (!ctest_record(!bad, file, line, "invariants hold", why)) {
        print_stats("stats:", &snap.stats);
        printf("    map: ");
        ctest_print_extents(snap.map.extents, snap.map.len);
        printf("\n");
    }
    ctest_snapshot_free(&snap);
    return !bad;
}

/* ---- The model ---------------------------------------------------------------------- */

static void model_grow(ctest_model *m, ctest_range **v, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t grown = *cap ? 2 * *cap : 16;
    while (grown < need) grown *= 2;
    ctest_range *bigger = realloc(*v, grown * sizeof *bigger);
    if (!bigger) {
        m->broken = 1;
        return;
    }
    *v = bigger;
    *cap = grown;
}

static void insert_at(ctest_model *m, ctest_range **v, size_t *len, size_t *cap, size_t i, size_t start,
                      size_t size) {
    model_grow(m, v, cap, *len + 1);
    if (m->broken) return;
    memmove(&(*v)[i + 1], &(*v)[i], (*len - i) * sizeof **v);
    (*v)[i].start = start;
    (*v)[i].size = size;
    (*v)[i].alignment = 1;
    (*len)++;
}

static void remove_at(ctest_range *v, size_t *len, size_t i) {
    memmove(&v[i], &v[i + 1], (*len - i - 1) * sizeof *v);
    (*len)--;
}

/* The index of the first range starting at or after `addr`. */
static size_t index_of(const ctest_range *v, size_t len, size_t addr) {
    size_t lo = 0, hi = len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].start < addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void add_free(ctest_model *m, size_t start, size_t size) {
    insert_at(m, &m->free_blocks, &m->n_free, &m->cap_free, index_of(m->free_blocks, m->n_free, start), start, size);
}

/* Records a new live allocation requested with `alignment` (0 or 1: none). */
static void add_live(ctest_model *m, size_t at, size_t size, size_t alignment) {
    size_t i = index_of(m->live, m->n_live, at);
    insert_at(m, &m->live, &m->n_live, &m->cap_live, i, at, size);
    if (!m->broken && alignment > 1) m->live[i].alignment = alignment;
}

static void model_setup(ctest_model *m, const ctest_rule *r) {
    memset(m, 0, sizeof *m);
    m->rule = *r;
    m->usable = usable_of(r);
    size_t start = 0;
    for (size_t bit = SIZE_MAX / 2 + 1; bit; bit >>= 1) {
        if (m->usable & bit) {
            m->tops[m->n_tops].start = start;
            m->tops[m->n_tops].size = bit;
            m->n_tops++;
            start += bit;
        }
    }
}

void ctest_model_reset(ctest_model *m) {
    m->n_free = 0;
    m->n_live = 0;
    if (m->rule.policy == MA_POLICY_BUDDY) {
        for (size_t i = 0; i < m->n_tops; i++) add_free(m, m->tops[i].start, m->tops[i].size);
    } else if (m->usable > 0) {
        add_free(m, 0, m->usable);
    }
}

void ctest_model_init(ctest_model *m, const ctest_rule *r) {
    model_setup(m, r);
    ctest_model_reset(m);
}

void ctest_model_of(ctest_model *m, const ma_allocator *a) {
    const ctest_rule r = ctest_rule_of(a);
    ctest_map map;
    model_setup(m, &r);
    if (ctest_map_take(a, &map) != MA_OK) m->broken = 1;
    for (size_t i = 0; i < map.len; i++) {
        const ctest_extent *e = &map.extents[i];
        if (e->kind == MA_BLOCK_FREE) {
            insert_at(m, &m->free_blocks, &m->n_free, &m->cap_free, m->n_free, e->start, e->size);
        } else if (e->kind == MA_BLOCK_ALLOCATED) {
            insert_at(m, &m->live, &m->n_live, &m->cap_live, m->n_live, e->start, e->size);
        }
    }
    ctest_map_free(&map);
}

void ctest_model_release(ctest_model *m) {
    free(m->free_blocks);
    free(m->live);
    m->free_blocks = NULL;
    m->live = NULL;
    m->n_free = m->n_live = m->cap_free = m->cap_live = 0;
}

/* Where fp units aligned to `al` start in the free block b, if they fit there. */
static int fits_in(ctest_range b, size_t fp, size_t al, size_t *at) {
    size_t x;
    if (!align_up(b.start, al, &x) || x - b.start > b.size || b.size - (x - b.start) < fp) return 0;
    *at = x;
    return 1;
}

/* The free block that holds [at, at + fp), or n_free. */
static size_t block_holding(const ctest_model *m, size_t at, size_t fp) {
    for (size_t i = 0; i < m->n_free; i++) {
        const ctest_range b = m->free_blocks[i];
        if (b.start <= at && at - b.start <= b.size && b.size - (at - b.start) >= fp) return i;
    }
    return m->n_free;
}

/* The address the policy gives fp units aligned to `al`; 0 when nothing fits. */
static int choose(const ctest_model *m, size_t fp, size_t al, size_t *out) {
    int found = 0;
    size_t best = 0, at;
    for (size_t i = 0; i < m->n_free; i++) {
        const ctest_range b = m->free_blocks[i];
        switch (m->rule.policy) {
        case MA_POLICY_BEST_FIT:
            if (fits_in(b, fp, al, &at) && (!found || b.size < m->free_blocks[best].size)) {
                found = 1;
                best = i;
                *out = at;
            }
            break;
        case MA_POLICY_BUDDY:
            if (b.size >= fp && b.start % al == 0 && (!found || b.size < m->free_blocks[best].size)) {
                found = 1;
                best = i;
                *out = b.start;
            }
            break;
        default: /* first fit; TLSF names the first fitting place when `got` is not one */
            if (fits_in(b, fp, al, &at)) {
                *out = at;
                return 1;
            }
        }
    }
    return found;
}

/* The address the policy gives, given the library's answer `got` where the policy may
   choose: TLSF any place that holds the request, buddy any block of the smallest size
   that holds it on the alignment (its free lists are LIFO). */
static int choose_by_policy(const ctest_model *m, size_t fp, size_t al, size_t got, size_t *out) {
    if (m->rule.policy == MA_POLICY_TLSF && got % al == 0 && block_holding(m, got, fp) < m->n_free) {
        *out = got;
        return 1;
    }
    if (!choose(m, fp, al, out)) return 0;
    if (m->rule.policy == MA_POLICY_BUDDY) {
        size_t smallest = m->free_blocks[index_of(m->free_blocks, m->n_free, *out)].size;
        size_t i = index_of(m->free_blocks, m->n_free, got);
        if (i < m->n_free && m->free_blocks[i].start == got && m->free_blocks[i].size == smallest && got % al == 0)
            *out = got;
    }
    return 1;
}

/* Takes [at, at + fp) out of the free block that holds it. */
static void take(ctest_model *m, size_t at, size_t fp) {
    size_t i = block_holding(m, at, fp);
    if (i == m->n_free) {
        m->broken = 1;
        return;
    }
    const ctest_range b = m->free_blocks[i];
    remove_at(m->free_blocks, &m->n_free, i);
    if (m->rule.policy == MA_POLICY_BUDDY) {
        /* Split down to fp: the low half kept, each upper half freed. */
        for (size_t half = b.size / 2; half >= fp; half /= 2) add_free(m, b.start + half, half);
        return;
    }
    if (b.size - (at - b.start) > fp) add_free(m, at + fp, b.size - (at - b.start) - fp);
    if (at > b.start) add_free(m, b.start, at - b.start);
}

/* Frees the buddy block (start, size), merging it with its buddy while it can. */
static void release_buddy_block(ctest_model *m, size_t start, size_t size) {
    while (buddy_parent_inside_top(m->usable, start, size)) {
        size_t buddy = start ^ size, i = index_of(m->free_blocks, m->n_free, buddy);
        if (i == m->n_free || m->free_blocks[i].start != buddy || m->free_blocks[i].size != size) break;
        remove_at(m->free_blocks, &m->n_free, i);
        start &= ~size;
        size *= 2;
    }
    add_free(m, start, size);
}

/* Returns [start, start + size) to free space: merged with both free neighbours, or under
   buddy cut into maximal aligned power-of-two blocks, each merged with its buddy. */
static void give(ctest_model *m, size_t start, size_t size) {
    if (m->rule.policy == MA_POLICY_BUDDY) {
        const size_t end = start + size;
        for (size_t at = start; at < end;) {
            size_t block = floor_pow2(end - at);
            while (at % block != 0) block /= 2;
            release_buddy_block(m, at, block);
            at += block;
        }
        return;
    }
    size_t i = index_of(m->free_blocks, m->n_free, start);
    int merge_prev = i > 0 && m->free_blocks[i - 1].start + m->free_blocks[i - 1].size == start;
    int merge_next = i < m->n_free && start + size == m->free_blocks[i].start;
    if (merge_prev && merge_next) {
        m->free_blocks[i - 1].size += size + m->free_blocks[i].size;
        remove_at(m->free_blocks, &m->n_free, i);
    } else if (merge_prev) {
        m->free_blocks[i - 1].size += size;
    } else if (merge_next) {
        m->free_blocks[i].start = start;
        m->free_blocks[i].size += size;
    } else {
        add_free(m, start, size);
    }
}

ma_status ctest_model_alloc(ctest_model *m, size_t size, size_t alignment, size_t got, size_t *out) {
    if (alignment != 0 && !is_pow2(alignment)) return MA_ERR_INVALID_ALIGNMENT;
    if (size == 0) return MA_ERR_INVALID_SIZE;
    const size_t fp = ctest_footprint(&m->rule, size);
    const size_t al = alignment > m->rule.min_alignment ? alignment : m->rule.min_alignment;
    size_t at;
    if (fp == 0 || !choose_by_policy(m, fp, al, got, &at)) return MA_ERR_OUT_OF_MEMORY;
    take(m, at, fp);
    add_live(m, at, size, alignment);
    *out = at;
    return MA_OK;
}

/* ma_free's checks, in order; on success *index is the live allocation's. */
static ma_status check_live(const ctest_model *m, size_t addr, size_t size, size_t *index) {
    if (addr >= m->rule.capacity) return MA_ERR_INVALID_ADDRESS;
    if (size == 0 || size > m->rule.capacity - addr) return MA_ERR_INVALID_SIZE;
    size_t i = index_of(m->live, m->n_live, addr);
    if (i == m->n_live || m->live[i].start != addr) return MA_ERR_NOT_ALLOCATED;
    if (m->live[i].size != size) return MA_ERR_SIZE_MISMATCH;
    *index = i;
    return MA_OK;
}

ma_status ctest_model_free(ctest_model *m, size_t addr, size_t size) {
    size_t i = 0;
    ma_status s = check_live(m, addr, size, &i);
    if (s != MA_OK) return s;
    remove_at(m->live, &m->n_live, i);
    give(m, addr, ctest_footprint(&m->rule, size));
    return MA_OK;
}

ma_status ctest_model_size_of(const ctest_model *m, size_t addr, size_t *out) {
    if (addr >= m->rule.capacity) return MA_ERR_INVALID_ADDRESS;
    size_t i = index_of(m->live, m->n_live, addr);
    if (i == m->n_live || m->live[i].start != addr) return MA_ERR_NOT_ALLOCATED;
    *out = m->live[i].size;
    return MA_OK;
}

ma_status ctest_model_free_at(ctest_model *m, size_t addr) {
    size_t size = 0;
    ma_status s = ctest_model_size_of(m, addr, &size);
    return s == MA_OK ? ctest_model_free(m, addr, size) : s;
}

ma_status ctest_model_realloc(ctest_model *m, size_t addr, size_t old_size, size_t new_size, size_t got,
                              size_t *out) {
    size_t i = 0;
    ma_status s = check_live(m, addr, old_size, &i);
    if (s != MA_OK) return s;
    if (new_size == 0) return MA_ERR_INVALID_SIZE;
    const size_t old_fp = ctest_footprint(&m->rule, old_size), new_fp = ctest_footprint(&m->rule, new_size);
    if (new_fp == 0) return MA_ERR_OUT_OF_MEMORY;
    if (new_fp <= old_fp) { /* shrink (or the same footprint): in place, the tail given back */
        if (new_fp < old_fp) give(m, addr + new_fp, old_fp - new_fp);
        m->live[i].size = new_size;
        *out = addr;
        return MA_OK;
    }
    if (m->rule.policy != MA_POLICY_BUDDY) { /* grow in place into the free block right after */
        size_t j = index_of(m->free_blocks, m->n_free, addr + old_fp);
        if (j < m->n_free && m->free_blocks[j].start == addr + old_fp && m->free_blocks[j].size >= new_fp - old_fp) {
            take(m, addr + old_fp, new_fp - old_fp);
            m->live[i].size = new_size;
            *out = addr;
            return MA_OK;
        }
    }
    /* Move: chosen while the old block is held (on the alignment the allocation was
       requested with), then the old one freed. */
    const size_t alignment = m->live[i].alignment;
    const size_t al = alignment > m->rule.min_alignment ? alignment : m->rule.min_alignment;
    size_t at;
    if (!choose_by_policy(m, new_fp, al, got, &at)) return MA_ERR_OUT_OF_MEMORY;
    take(m, at, new_fp);
    remove_at(m->live, &m->n_live, i);
    give(m, addr, old_fp);
    add_live(m, at, new_size, alignment);
    *out = at;
    return MA_OK;
}

static void push_extent(ctest_map *out, size_t start, size_t size, int kind) {
    if (out->len == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 16;
        ctest_extent *grown = realloc(out->extents, cap * sizeof *grown);
        if (!grown) return; /* the map is short and will not compare equal */
        out->extents = grown;
        out->cap = cap;
    }
    out->extents[out->len].start = start;
    out->extents[out->len].size = size;
    out->extents[out->len].kind = kind;
    out->len++;
}

void ctest_model_map(const ctest_model *m, ctest_map *out) {
    out->extents = NULL;
    out->len = out->cap = 0;
    size_t f = 0, l = 0;
    while (f < m->n_free || l < m->n_live) {
        if (l == m->n_live || (f < m->n_free && m->free_blocks[f].start < m->live[l].start)) {
            push_extent(out, m->free_blocks[f].start, m->free_blocks[f].size, MA_BLOCK_FREE);
            f++;
        } else {
            const ctest_range b = m->live[l++];
            const size_t fp = ctest_footprint(&m->rule, b.size);
            push_extent(out, b.start, b.size, MA_BLOCK_ALLOCATED);
            if (fp > b.size) push_extent(out, b.start + b.size, fp - b.size, MA_BLOCK_PADDING);
        }
    }
    if (m->usable < m->rule.capacity) push_extent(out, m->usable, m->rule.capacity - m->usable, MA_BLOCK_PADDING);
}

int ctest_check_model(const ma_allocator *a, const ctest_model *m, const char *file, int line, const char *what) {
    ctest_map got, want;
    ma_status s = ctest_map_take(a, &got);
    ctest_model_map(m, &want);
    int ok = s == MA_OK && !m->broken && extents_equal(got.extents, got.len, want.extents, want.len);
    char expr[256];
    snprintf(expr, sizeof expr, "map after %s is the model's", what);
    if (!ctest_record(ok, file, line, expr, m->broken ? "the model ran out of memory" : NULL)) {
        printf("    got:  ");
        ctest_print_extents(got.extents, got.len);
        printf("\n    want: ");
        ctest_print_extents(want.extents, want.len);
        printf("\n");
    }
    ctest_map_free(&got);
    ctest_map_free(&want);
    return ok;
}

/* ---- Calls checked against the model --------------------------------------------- */

/* The common part: status and out-parameter as the model says, unchanged on error, the
   model's map and the invariants after success. */
static ma_status conclude(ma_allocator *a, ctest_model *m, ctest_snapshot *before, ma_status got, size_t got_out,
                          ma_status want, size_t want_out, int has_out, const char *file, int line,
                          const char *expr) {
    char details[256];
    if (want == MA_OK && has_out) {
        snprintf(details, sizeof details, "gave %s, out %zu; the model: %s, out %zu", ctest_status_name(got), got_out,
                 ctest_status_name(want), want_out);
    } else {
        snprintf(details, sizeof details, "gave %s, out %zu; the model: %s", ctest_status_name(got), got_out,
                 ctest_status_name(want));
    }
    char what[256];
    snprintf(what, sizeof what, "%s as the policy's rule says", expr);
    int ok = got == want && (!has_out || got_out == (want == MA_OK ? want_out : CTEST_SENTINEL));
    if (!ctest_record(ok, file, line, what, details)) {
        printf("    map before: ");
        ctest_print_extents(before->map.extents, before->map.len);
        printf("\n");
    } else if (got != MA_OK) {
        ctest_check_unchanged(a, before, file, line, expr);
    } else {
        ctest_check_model(a, m, file, line, expr);
        ctest_check_invariants(a, file, line);
    }
    ctest_snapshot_free(before);
    ctest_model_release(m);
    return got;
}

ma_status ctest_checked_alloc(ma_allocator *a, size_t size, size_t alignment, size_t *out, const char *file,
                              int line, const char *expr) {
    ctest_model m;
    ctest_snapshot before;
    ctest_model_of(&m, a);
    ctest_snapshot_take(a, &before);
    size_t got = CTEST_SENTINEL, want = CTEST_SENTINEL;
    ma_status s = alignment ? ma_alloc_aligned(a, size, alignment, &got) : ma_alloc(a, size, &got);
    ma_status w = ctest_model_alloc(&m, size, alignment, got, &want);
    *out = got;
    return conclude(a, &m, &before, s, got, w, want, 1, file, line, expr);
}

ma_status ctest_checked_free(ma_allocator *a, size_t addr, size_t size, const char *file, int line,
                             const char *expr) {
    ctest_model m;
    ctest_snapshot before;
    ctest_model_of(&m, a);
    ctest_snapshot_take(a, &before);
    ma_status s = ma_free(a, addr, size);
    ma_status w = ctest_model_free(&m, addr, size);
    return conclude(a, &m, &before, s, 0, w, 0, 0, file, line, expr);
}

ma_status ctest_checked_free_at(ma_allocator *a, size_t addr, const char *file, int line, const char *expr) {
    ctest_model m;
    ctest_snapshot before;
    ctest_model_of(&m, a);
    ctest_snapshot_take(a, &before);
    ma_status s = ma_free_at(a, addr);
    ma_status w = ctest_model_free_at(&m, addr);
    return conclude(a, &m, &before, s, 0, w, 0, 0, file, line, expr);
}

ma_status ctest_checked_realloc(ma_allocator *a, size_t addr, size_t old_size, size_t new_size, size_t *out,
                                const char *file, int line, const char *expr) {
    ctest_model m;
    ctest_snapshot before;
    ctest_model_of(&m, a);
    ctest_snapshot_take(a, &before);
    size_t got = CTEST_SENTINEL, want = CTEST_SENTINEL;
    ma_status s = ma_realloc(a, addr, old_size, new_size, &got);
    ma_status w = ctest_model_realloc(&m, addr, old_size, new_size, got, &want);
    if (s == MA_OK && got != addr) { /* a move: the new block never overlaps the old one */
        const ctest_rule r = ctest_rule_of(a);
        const size_t old_fp = ctest_footprint(&r, old_size), new_fp = ctest_footprint(&r, new_size);
        ctest_record(got + new_fp <= addr || addr + old_fp <= got, file, line, "a moved block is apart from the old one",
                     expr);
    }
    *out = got;
    return conclude(a, &m, &before, s, got, w, want, 1, file, line, expr);
}

size_t ctest_alloc_ok(ma_allocator *a, size_t size, size_t alignment, const char *file, int line, const char *expr) {
    size_t at = CTEST_SENTINEL;
    char what[200];
    snprintf(what, sizeof what, "%s == MA_OK", expr);
    ctest_check_status(ctest_checked_alloc(a, size, alignment, &at, file, line, expr), MA_OK, file, line, what);
    return at;
}

size_t ctest_realloc_ok(ma_allocator *a, size_t addr, size_t old_size, size_t new_size, const char *file, int line,
                        const char *expr) {
    size_t at = CTEST_SENTINEL;
    char what[200];
    snprintf(what, sizeof what, "%s == MA_OK", expr);
    ctest_check_status(ctest_checked_realloc(a, addr, old_size, new_size, &at, file, line, expr), MA_OK, file, line,
                       what);
    return at;
}

ma_allocator *ctest_create_layout(uint32_t policy, size_t capacity, const ctest_extent *want, size_t n) {
    if (policy == MA_POLICY_BUDDY) return NULL;
    ma_allocator *a = ctest_create(policy, capacity, 1);
    for (size_t i = 0; a && i < n; i++) {
        const size_t rest = capacity - want[i].start;
        CHECK_ALLOC(a, rest, want[i].start);
        if (want[i].size < rest) CHECK_SIZE(REALLOC(a, want[i].start, rest, want[i].size), want[i].start);
    }
    for (size_t i = 0; a && i < n; i++) {
        if (want[i].kind == MA_BLOCK_FREE) FREE_OK(a, want[i].start, want[i].size);
    }
    if (a) ctest_check_map(a, want, n, __FILE__, __LINE__, "the layout asked for");
    return a;
}

int ctest_check_initial(const ma_allocator *a, const char *file, int line) {
    const ctest_rule r = ctest_rule_of(a);
    ctest_model m;
    ctest_model_init(&m, &r);
    int ok = ctest_check_model(a, &m, file, line, "everything was freed (the initial map)");
    ctest_model_release(&m);
    return ok;
}

int ctest_check_largest_free(ma_allocator *a, const char *file, int line) {
    ma_stats st;
    ctest_snapshot before;
    size_t addr = CTEST_SENTINEL;
    int ok = ctest_check_status(ma_get_stats(a, &st), MA_OK, file, line, "ma_get_stats");
    ctest_snapshot_take(a, &before);
    if (ok && st.largest_free > 0) {
        ok = ctest_check_status(ma_alloc(a, st.largest_free, &addr), MA_OK, file, line, "ma_alloc(largest_free)") &&
             ctest_check_status(ma_free(a, addr, st.largest_free), MA_OK, file, line, "ma_free(largest_free)");
    }
    if (ok && st.largest_free < SIZE_MAX) {
        ok = ctest_check_status(ma_alloc(a, st.largest_free + 1, &addr), MA_ERR_OUT_OF_MEMORY, file, line,
                                "ma_alloc(largest_free + 1)");
    }
    if (ok) ok = ctest_check_unchanged(a, &before, file, line, "ma_alloc(largest_free) then ma_free");
    ctest_snapshot_free(&before);
    return ok;
}

void ctest_rng_seed(ctest_rng *r, uint64_t seed) {
    r->state = seed ? seed : 0x9E3779B97F4A7C15u;
}

uint64_t ctest_rng_next(ctest_rng *r) {
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1Du;
}

size_t ctest_rng_below(ctest_rng *r, size_t n) {
    return (size_t)(ctest_rng_next(r) % n);
}
