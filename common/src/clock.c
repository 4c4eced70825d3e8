/**
 * @file clock.c
 * @brief Clock readings and deadlines (eir_clock.h).
 */
#define _GNU_SOURCE
#include "eir_clock.h"

#include <errno.h>
#include <math.h>

static struct timespec read_clock(clockid_t clock)
{
    struct timespec ts = {0, 0};
    if (clock_gettime(clock, &ts) != 0) ts = (struct timespec){0, 0};
    return ts;
}

static double seconds_of(struct timespec ts)
{
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double eir_clock_mono(void)
{
    return seconds_of(read_clock(CLOCK_MONOTONIC));
}

double eir_clock_cpu(void)
{
    return seconds_of(read_clock(CLOCK_PROCESS_CPUTIME_ID));
}

int64_t eir_clock_epoch_ms(void)
{
    struct timespec ts = read_clock(CLOCK_REALTIME);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec eir_timespec_add(struct timespec ts, double seconds)
{
    double whole = floor(seconds);
    long nsec = (long)((seconds - whole) * 1e9);
    if (nsec >= 1000000000L) nsec = 999999999L; /* rounding of a fraction just below 1 */
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += nsec;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

struct timespec eir_clock_deadline(clockid_t clock, double seconds)
{
    return eir_timespec_add(read_clock(clock), seconds > 0 ? seconds : 0);
}

void eir_clock_sleep(double seconds)
{
    if (!(seconds > 0)) return;
    struct timespec ts = eir_timespec_add((struct timespec){0, 0}, seconds);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
