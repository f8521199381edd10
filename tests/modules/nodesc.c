/* nodesc.c - a shared object with no module descriptor. */
int nodesc_is_not_a_module(void);
int nodesc_is_not_a_module(void)
{
    return 42;
}
