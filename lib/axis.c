/* Index arithmetic of per-axis reductions, shared by the ops. */
#include "axis.h"

void h5cl_axis_view(const h5cl_box *b, int axis, uint64_t *O, uint64_t *A,
                    uint64_t *I)
{
    *O = *I = 1;
    for (int d = 0; d < axis; d++)
        *O *= b->count[d];
    for (int d = axis + 1; d < b->rank; d++)
        *I *= b->count[d];
    *A = b->count[axis];
}

uint64_t h5cl_sel_index(const h5cl_box *sel, const h5cl_box *tile, int d0,
                        int d1, uint64_t local)
{
    uint64_t coord[H5CL_MAX_RANK];
    for (int d = d1 - 1; d >= d0; d--) {
        coord[d] = local % tile->count[d];
        local /= tile->count[d];
    }
    uint64_t g = 0;
    for (int d = d0; d < d1; d++)
        g = g * sel->count[d] + (tile->start[d] - sel->start[d] + coord[d]);
    return g;
}

void h5cl_axis_max_view(const h5cl_plan *plan, int axis, uint64_t *O,
                        uint64_t *A, uint64_t *I)
{
    h5cl_box full;
    full.rank = plan->sel.rank;
    for (int d = 0; d < full.rank; d++)
        full.count[d] = plan->tile_dims[d] < plan->sel.count[d]
                            ? plan->tile_dims[d]
                            : plan->sel.count[d];
    h5cl_axis_view(&full, axis, O, A, I);
}

uint64_t h5cl_axis_max_positions(const h5cl_plan *plan, int axis)
{
    uint64_t O, A, I;
    h5cl_axis_max_view(plan, axis, &O, &A, &I);
    return O * I;
}
