/*
 * core/metrics.c owns the process's counters and latency histograms: relaxed atomic adds on the
 * request path, read by admin/ when /metrics is scraped. Fixed sets (no registry, no labels
 * invented from request data): upstreams are named by config index, reasons by fixed strings.
 */
#include "core/core.h"

#include <stdatomic.h>

static _Atomic uint64_t counters[GH_METRIC__COUNT];
static const double BUCKETS_S[GH_METRIC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct histogram {
    _Atomic uint64_t bucket[GH_METRIC_BUCKETS]; /* cumulative is computed when rendered */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};
static struct histogram latency[GH_METRIC_UPSTREAMS];

void gh_metric_add(enum gh_metric m, uint64_t n)
{
    atomic_fetch_add_explicit(&counters[m], n, memory_order_relaxed);
}

uint64_t gh_metric_get(enum gh_metric m)
{
    return atomic_load_explicit(&counters[m], memory_order_relaxed);
}

void gh_metric_latency(size_t upstream, uint64_t us)
{
    if (upstream >= GH_METRIC_UPSTREAMS)
        return;
    struct histogram *h = &latency[upstream];
    double s = (double)us / 1e6;
    for (size_t i = 0; i < GH_METRIC_BUCKETS; i++) {
        if (s <= BUCKETS_S[i]) {
            atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

bool gh_metric_latency_get(size_t upstream, struct gh_metric_histogram *out)
{
    if (upstream >= GH_METRIC_UPSTREAMS)
        return false;
    const struct histogram *h = &latency[upstream];
    uint64_t cum = 0;
    for (size_t i = 0; i < GH_METRIC_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        out->le[i] = BUCKETS_S[i];
        out->cumulative[i] = cum;
    }
    out->count = atomic_load_explicit(&h->count, memory_order_relaxed);
    out->sum_s = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
    if (out->count < cum) /* adds are not atomic together: never show fewer than the buckets */
        out->count = cum;
    return out->count > 0;
}
