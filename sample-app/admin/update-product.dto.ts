/** Body of `PATCH /admin/products/:id`: the fields to change. */
export class UpdateProductDto {
  name?: string;
  price?: number;
  description?: string;
}
