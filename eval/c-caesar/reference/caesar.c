#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    char *end;
    if (argc != 2) { fprintf(stderr, "usage: caesar SHIFT\n"); return 2; }
    long shift = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0') { fprintf(stderr, "usage: caesar SHIFT\n"); return 2; }
    int s = (int)(((shift % 26) + 26) % 26);
    int c;
    while ((c = getchar()) != EOF) {
        if (c >= 'a' && c <= 'z') c = 'a' + (c - 'a' + s) % 26;
        else if (c >= 'A' && c <= 'Z') c = 'A' + (c - 'A' + s) % 26;
        putchar(c);
    }
    return 0;
}
