import Helper.Core
