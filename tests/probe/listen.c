/* Test helper for the network tests (built static, bind-mounted into machines): listen on
 * 0.0.0.0:PORT (TCP), accept one connection, write MESSAGE and a newline to it, exit 0. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: listen PORT MESSAGE\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) {
        perror("listen");
        return 1;
    }
    int c = accept(s, NULL, NULL);
    if (c < 0) {
        perror("accept");
        return 1;
    }
    dprintf(c, "%s\n", argv[2]);
    close(c);
    return 0;
}
