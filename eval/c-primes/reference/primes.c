#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    char *end;
    if (argc != 2) { fprintf(stderr, "usage: primes N\n"); return 2; }
    long n = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0') { fprintf(stderr, "usage: primes N\n"); return 2; }
    if (n < 2) return 0;
    char *composite = calloc((size_t)n + 1, 1);
    if (!composite) { perror("calloc"); return 1; }
    for (long i = 2; i * i <= n; i++)
        if (!composite[i])
            for (long j = i * i; j <= n; j += i) composite[j] = 1;
    for (long i = 2; i <= n; i++)
        if (!composite[i]) printf("%ld\n", i);
    free(composite);
    return 0;
}
