/* Per-axis reductions: a tile seen as [O][A][I] around the reduced axis,
 * and where the tile's output positions land in the selection's. */
#ifndef H5CL_AXIS_H
#define H5CL_AXIS_H

#include "dataset.h"

/* O: product of the dims before axis, A: the axis, I: the dims after. */
void h5cl_axis_view(const h5cl_box *b, int axis, uint64_t *O, uint64_t *A,
                    uint64_t *I);

/* The flat C-order index, within the selection and over dimensions
 * [d0, d1), of the element whose flat index within the tile over those
 * dimensions is `local`. */
uint64_t h5cl_sel_index(const h5cl_box *sel, const h5cl_box *tile, int d0,
                        int d1, uint64_t local);

/* The view of the plan's largest tile (a full one, clipped to the
 * selection): what per-tile buffers are sized for. */
void h5cl_axis_max_view(const h5cl_plan *plan, int axis, uint64_t *O,
                        uint64_t *A, uint64_t *I);
/* The largest O*I of the plan's tiles: that of a full tile. */
uint64_t h5cl_axis_max_positions(const h5cl_plan *plan, int axis);

#endif
