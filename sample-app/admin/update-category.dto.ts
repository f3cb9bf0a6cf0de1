/** Body of `PATCH /admin/categories/:id`. */
export class UpdateCategoryDto {
  name?: string;
}
