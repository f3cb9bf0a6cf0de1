/** Body of `PATCH /admin/products/:id`: the fields to change. */
export class UpdateProductDto {
  name?: string;
  price?: number;
  /** Back-office only: no page shows it, so changing only this evicts nothing. */
  costPrice?: number;
  description?: string;
}
