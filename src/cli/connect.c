/* cli/connect.c: placeholder until this command lands (issue 8). */
#include "cli/cli.h"

#include <stdio.h>

int gh_cli_connect(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gatehouse %s: not built yet\n", argv[1]);
    return 2;
}

