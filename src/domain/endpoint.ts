/** The two webhook endpoints: POST /mutate and POST /validate. */
export type Endpoint = 'mutate' | 'validate'
