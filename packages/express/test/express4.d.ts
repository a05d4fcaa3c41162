// `express4` is an npm alias of express@4 (a devDependency); its API is typed close enough by @types/express 5.
declare module 'express4' {
  import express from 'express'
  export default express
}
