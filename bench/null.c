/* bench-null: does nothing. Linked statically where the C library allows it,
 * so that bench/run.sh measures what starting any process costs (fork, exec,
 * wait) with no dynamic loader: the start hook's floor. */
int main(void)
{
	return 0;
}
