/* The first C user program: hello's text from glibc's printf, built with
 * gcc -m32 -static (user/hello is the Rust one: the same output). */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("Hello from user space!\n");
	printf("argc: %d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]: %s\n", i, argv[i]);
	return 0;
}
