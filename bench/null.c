/* bench-null: does nothing. Linked statically where the C library allows it,
 * so that bench/sync.sh measures what starting any process costs (fork, exec,
 * wait) with no dynamic loader, next to /bin/true (which has one). */
int main(void)
{
	return 0;
}
