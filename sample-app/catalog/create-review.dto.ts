/** Body of `POST /product/:slug/reviews` (a form post, so every field arrives as a string). */
export class CreateReviewDto {
  author?: string;
  rating?: string | number;
  body?: string;
  _csrf?: string;
}
